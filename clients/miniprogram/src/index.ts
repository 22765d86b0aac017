// wxid client for WeChat mini-programs.
export { createClient, parseResponse } from './client';
export type {
  ClientOptions,
  Document,
  LoginResult,
  MySession,
  PhoneNumberResult,
  ProfileChange,
  RequestArgs,
  RequestOptions,
  RetryOptions,
  StoredSession,
  User,
  WxidClient,
} from './client';
export { WxidError, isWxidError } from './errors';
export type { GraphQLErrorEntry, WxidErrorCode } from './errors';
export type {
  PhoneNumberDetail,
  PhoneNumberEvent,
  Timers,
  Wx,
  WxCheckSessionOptions,
  WxFailResult,
  WxLoginOptions,
  WxLoginSuccessResult,
  WxRequestOptions,
  WxRequestSuccessResult,
} from './wx';
// The generated operation types and typed documents, for request().
export * from './generated/graphql';
