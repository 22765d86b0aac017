// The Taro APIs the client uses, with the signatures @tarojs/taro 4 declares
// (types/api/network/request.d.ts, open-api/login.d.ts, storage/index.d.ts),
// trimmed to what matters for assignability: `createClient({ wx: Taro })`
// must compile against these, and the unit tests run a Taro-shaped object.
export interface TaroCallbackResult {
  errMsg: string;
}

export interface TaroRequestOption<T = any, U = any> {
  url: string;
  data?: U;
  header?: Record<string, any>;
  timeout?: number;
  method?: 'OPTIONS' | 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'TRACE' | 'CONNECT';
  dataType?: 'json' | 'text' | 'base64' | 'arraybuffer' | string;
  responseType?: 'text' | 'arraybuffer';
  success?: (result: TaroRequestResult<T>) => void;
  fail?: (res: TaroCallbackResult) => void;
  complete?: (res: Partial<TaroRequestResult> & TaroCallbackResult) => void;
}

export interface TaroRequestResult<T = any> extends TaroCallbackResult {
  data: T;
  header: Record<string, any>;
  statusCode: number;
  errMsg: string;
  cookies?: string[];
}

export interface TaroRequestTask<T> extends Promise<TaroRequestResult<T>> {
  abort(): void;
}

export interface TaroLoginOption {
  complete?: (res: TaroCallbackResult) => void;
  fail?: (res: TaroCallbackResult) => void;
  success?: (result: { code: string; errMsg: string }) => void;
  timeout?: number;
  force?: boolean;
}

export interface TaroCheckSessionOption {
  complete?: (res: TaroCallbackResult) => void;
  fail?: (res: TaroCallbackResult) => void;
  success?: (res: TaroCallbackResult) => void;
}

/** The part of TaroStatic the client needs. */
export interface TaroLike {
  request<T = any, U = any>(option: TaroRequestOption<T, U>): TaroRequestTask<T>;
  login(option?: TaroLoginOption): Promise<{ code: string; errMsg: string; anonymousCode?: string; isLogin?: boolean }>;
  checkSession(option?: TaroCheckSessionOption): Promise<TaroCallbackResult>;
  getStorageSync<T = any>(key: string): T;
  setStorageSync(key: string, data: any): void;
  removeStorageSync(key: string): void;
}
