/** One entry of a GraphQL response's `errors`. */
export interface GraphQLErrorEntry {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: string; [key: string]: unknown };
}

/**
 * Codes of wxid's errors (`extensions.code`), plus the client's own:
 * NETWORK_ERROR (wx.request failed), HTTP_ERROR (a non-GraphQL HTTP answer),
 * BAD_RESPONSE (not a GraphQL response), WX_LOGIN_FAILED (wx.login failed),
 * PHONE_DENIED (the getPhoneNumber event carries no number: the user declined).
 */
export type WxidErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'INVALID_CODE'
  | 'WECHAT_RATE_LIMITED'
  | 'WECHAT_UNAVAILABLE'
  | 'DECRYPT_FAILED'
  | 'INTERNAL'
  | 'NETWORK_ERROR'
  | 'HTTP_ERROR'
  | 'BAD_RESPONSE'
  | 'WX_LOGIN_FAILED'
  | 'PHONE_DENIED'
  | (string & {});

/** Every error the client rejects with. `code` is wxid's `extensions.code`. */
export class WxidError extends Error {
  readonly code: WxidErrorCode;
  /** All GraphQL errors of the response (empty for client-side errors). */
  readonly errors: readonly GraphQLErrorEntry[];
  /** The HTTP status, when there was a response. */
  readonly statusCode?: number;

  constructor(code: WxidErrorCode, message: string, options: { errors?: readonly GraphQLErrorEntry[]; statusCode?: number } = {}) {
    super(message);
    // Keep instanceof working when the mini-program tooling compiles classes to ES5.
    Object.setPrototypeOf(this, WxidError.prototype);
    this.name = 'WxidError';
    this.code = code;
    this.errors = options.errors ?? [];
    this.statusCode = options.statusCode;
  }
}

/** True when err is a WxidError (with the given code, when one is given). */
export function isWxidError(err: unknown, code?: WxidErrorCode): err is WxidError {
  if (err == null || typeof err !== 'object') return false;
  const e = err as { name?: unknown; code?: unknown };
  if (!(err instanceof WxidError) && e.name !== 'WxidError') return false;
  return code === undefined || e.code === code;
}
