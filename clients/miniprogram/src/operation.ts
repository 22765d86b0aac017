// What the client needs to know about an operation before sending it: whether
// it is a query (safe to resend after a network failure) and whether it ends
// the caller's session (never log in just to run it; forget the skey after).

/** The kind and name of the first operation of a GraphQL document. */
export interface OperationInfo {
  kind: 'query' | 'mutation' | 'subscription';
  /** The operation's name; empty for an anonymous operation. */
  name: string;
}

/**
 * Operations (by name, as in operations/*.graphql) after which the caller's
 * skey no longer works. The client never logs in to run them, and forgets the
 * stored session once they succeed or answer UNAUTHENTICATED.
 */
export const SESSION_ENDING_OPERATIONS: ReadonlySet<string> = new Set(['Logout', 'LogoutEverywhere', 'DeleteMyAccount']);

const cache = new Map<string, OperationInfo>();

/** The first operation of a document, skipping comments and fragment definitions. */
export function operationInfo(document: string): OperationInfo {
  const hit = cache.get(document);
  if (hit) return hit;
  const info = scan(document);
  if (cache.size < 256) cache.set(document, info);
  return info;
}

function scan(src: string): OperationInfo {
  let i = 0;
  const n = src.length;
  const skipIgnored = () => {
    while (i < n) {
      const c = src[i];
      if (c === '#') {
        while (i < n && src[i] !== '\n' && src[i] !== '\r') i++;
      } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === ',' || c === '\ufeff') {
        i++;
      } else {
        return;
      }
    }
  };
  const word = (): string => {
    const m = /^[_A-Za-z][_0-9A-Za-z]*/.exec(src.slice(i, i + 256));
    if (!m) return '';
    i += m[0].length;
    return m[0];
  };
  const skipBlock = () => {
    // From the current position past the first balanced { ... }, skipping strings and comments.
    let depth = 0;
    while (i < n) {
      const c = src[i];
      if (c === '#') {
        skipIgnored();
        continue;
      }
      if (c === '"') {
        const block = src.startsWith('"""', i);
        i += block ? 3 : 1;
        while (i < n) {
          if (src[i] === '\\') i += 2;
          else if (block ? src.startsWith('"""', i) : src[i] === '"') {
            i += block ? 3 : 1;
            break;
          } else i++;
        }
        continue;
      }
      i++;
      if (c === '{') depth++;
      else if (c === '}' && --depth === 0) return;
    }
  };
  for (;;) {
    skipIgnored();
    if (i >= n || src[i] === '{') return { kind: 'query', name: '' };
    const keyword = word();
    if (keyword === 'query' || keyword === 'mutation' || keyword === 'subscription') {
      skipIgnored();
      return { kind: keyword, name: word() };
    }
    if (keyword !== 'fragment') return { kind: 'query', name: '' }; // not ours to judge: the server answers
    skipBlock();
  }
}
