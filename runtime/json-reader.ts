// A small JSON reader that knows where it is: syntax errors are E0602 placed
// at FILE:LINE:COL. Objects are read as Maps (keys in file order, duplicate
// keys rejected), so that no key can touch an object prototype.

import { AmpcError } from '../ir/errors.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

export function isJsonObject(v: JsonValue): v is JsonObject {
  return v instanceof Map;
}

/** Lists and objects nested deeper than this are refused (E0602), before the reader's recursion could overflow the stack. */
export const MAX_JSON_DEPTH = 512;

/** Parses JSON text; `file` names the source in error messages. */
export function readJson(text: string, file: string): JsonValue {
  let pos = text.startsWith('\uFEFF') ? 1 : 0; // a byte order mark is not content
  let depth = 0;

  const fail = (what: string, at = pos): never => {
    let line = 1, col = 1;
    for (let i = 0; i < at && i < text.length; i++) {
      if (text[i] === '\n') {
        line++;
        col = 1;
      } else col++;
    }
    throw new AmpcError('E0602', `invalid JSON: ${what}`, { file, line, col });
  };

  const found = (): string => (pos >= text.length ? 'the end of the file' : `'${text[pos]}'`);

  const skipSpace = (): void => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos]!)) pos++;
  };

  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

  const readString = (): string => {
    const start = pos;
    pos++; // opening quote
    while (pos < text.length && text[pos] !== '"') {
      const ch = text.charCodeAt(pos);
      if (ch < 0x20) fail('control character in a string');
      pos += text[pos] === '\\' ? 2 : 1;
    }
    if (pos >= text.length) fail('unterminated string', start);
    pos++; // closing quote
    try {
      return JSON.parse(text.slice(start, pos)) as string;
    } catch {
      return fail('bad escape in a string', start);
    }
  };

  const readValue = (): JsonValue => {
    skipSpace();
    const ch = text[pos];
    if (ch === '{' || ch === '[') {
      if (++depth > MAX_JSON_DEPTH) fail(`lists and objects nested deeper than ${MAX_JSON_DEPTH} levels`);
      const v = ch === '{' ? readObject() : readArray();
      depth--;
      return v;
    }
    if (ch === '"') return readString();
    for (const [word, value] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m) {
      const x = Number(m[0]);
      if (!Number.isFinite(x)) fail(`the number ${m[0].length > 24 ? m[0].slice(0, 24) + '…' : m[0]} is too large for a double (write "inf" or "-inf" for infinities)`);
      pos += m[0].length;
      return x;
    }
    return fail(`expected a value, found ${found()}`);
  };

  const readArray = (): JsonValue[] => {
    pos++;
    const out: JsonValue[] = [];
    skipSpace();
    if (text[pos] === ']') {
      pos++;
      return out;
    }
    for (;;) {
      out.push(readValue());
      skipSpace();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === ']') {
        pos++;
        return out;
      }
      fail(`expected ',' or ']' in a list, found ${found()}`);
    }
  };

  const readObject = (): JsonObject => {
    pos++;
    const out: JsonObject = new Map();
    skipSpace();
    if (text[pos] === '}') {
      pos++;
      return out;
    }
    for (;;) {
      skipSpace();
      if (text[pos] !== '"') fail(`expected a double-quoted key, found ${found()}`);
      const keyAt = pos;
      const key = readString();
      if (out.has(key)) fail(`key "${key}" appears twice`, keyAt);
      skipSpace();
      if (text[pos] !== ':') fail(`expected ':' after a key, found ${found()}`);
      pos++;
      out.set(key, readValue());
      skipSpace();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === '}') {
        pos++;
        return out;
      }
      fail(`expected ',' or '}' in an object, found ${found()}`);
    }
  };

  const value = readValue();
  skipSpace();
  if (pos < text.length) fail(`unexpected ${found()} after the JSON value`);
  return value;
}
