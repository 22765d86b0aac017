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
 * PHONE_DENIED (the getPhoneNumber event carries no number: the user declined),
 * PHONE_SESSION_EXPIRED (old-form phone data that can no longer be decrypted:
 * the session it was encrypted for lapsed or was replaced; log in and ask for
 * the tap again).
 */
export type WxidErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'INVALID_CODE'
  | 'WECHAT_RATE_LIMITED'
  | 'WECHAT_UNAVAILABLE'
  | 'DECRYPT_FAILED'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  | 'NETWORK_ERROR'
  | 'HTTP_ERROR'
  | 'BAD_RESPONSE'
  | 'WX_LOGIN_FAILED'
  | 'PHONE_DENIED'
  | 'PHONE_SESSION_EXPIRED'
  | (string & {});

/** Every error the client rejects with. `code` is wxid's `extensions.code`. */
export class WxidError extends Error {
  readonly code: WxidErrorCode;
  /** All GraphQL errors of the response (empty for client-side errors). */
  readonly errors: readonly GraphQLErrorEntry[];
  /** The HTTP status, when there was a response. */
  readonly statusCode?: number;
  /** Seconds after which a retry may succeed (`extensions.retryAfter` of RATE_LIMITED and UNAVAILABLE). */
  readonly retryAfter?: number;
  /** The error this one replaces, if any (PHONE_SESSION_EXPIRED keeps the server's answer here). */
  readonly original?: unknown;

  constructor(
    code: WxidErrorCode,
    message: string,
    options: { errors?: readonly GraphQLErrorEntry[]; statusCode?: number; original?: unknown } = {},
  ) {
    super(message);
    // Keep instanceof working when the mini-program tooling compiles classes to ES5.
    Object.setPrototypeOf(this, WxidError.prototype);
    this.name = 'WxidError';
    this.code = code;
    this.errors = options.errors ?? [];
    this.statusCode = options.statusCode;
    this.original = options.original;
    const first = this.errors.find((e) => e && e.extensions && e.extensions.code === code);
    const after = first && first.extensions ? first.extensions.retryAfter : undefined;
    if (typeof after === 'number' && after >= 0) this.retryAfter = after;
  }
}

/** True when err is a WxidError (with the given code, when one is given). */
export function isWxidError(err: unknown, code?: WxidErrorCode): err is WxidError {
  if (err == null || typeof err !== 'object') return false;
  const e = err as { name?: unknown; code?: unknown };
  if (!(err instanceof WxidError) && e.name !== 'WxidError') return false;
  return code === undefined || e.code === code;
}
