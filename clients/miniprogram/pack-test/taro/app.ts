// A Taro project passes Taro as wx. `Taro` here has @tarojs/taro 4's
// signatures for the APIs the client uses (see taro-types.ts).
import { createClient, MeDocument, type WxidClient } from '@wxid/miniprogram';
import type { TaroLike } from './taro-types';

declare const Taro: TaroLike;

export const wxid: WxidClient = createClient({ endpoint: 'https://id.example.com/graphql', wx: Taro });

export async function loadMe(): Promise<string> {
  const { me } = await wxid.request(MeDocument);
  return me.id;
}
