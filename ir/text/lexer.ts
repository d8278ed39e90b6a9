// Tokens of the textual IR (chevrotain): value names `%x` / `%0`, graph names
// `@g`, identifiers (op names, attribute keys, dtypes, true/false/inf/nan),
// integer and float literals, JSON strings and punctuation. Whitespace is
// skipped; `//` comments go to their own group (the parser keeps a comment
// that ends a node's line as that node's note, as the printer writes notes).
// `tokenize` turns the first lexical error into an AmpcError E0001 with its
// place.

import type { IToken, TokenType } from 'chevrotain';
import { createToken, Lexer } from 'chevrotain';
import { AmpcError } from '../errors.ts';
import type { Loc } from '../errors.ts';

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED, line_breaks: true });
export const Comment = createToken({ name: 'Comment', pattern: /\/\/[^\n\r]*/, group: 'comments' });

export const Ident = createToken({ name: 'Ident', pattern: /[A-Za-z_][A-Za-z0-9_.]*/, label: 'an identifier' });
export const GraphKw = createToken({ name: 'Graph', pattern: /graph/, longer_alt: Ident, label: "'graph'" });
export const ReturnKw = createToken({ name: 'Return', pattern: /return/, longer_alt: Ident, label: "'return'" });

export const ValueName = createToken({ name: 'ValueName', pattern: /%[A-Za-z0-9_.]+/, label: 'a value name (%x)' });
export const GraphName = createToken({ name: 'GraphName', pattern: /@[A-Za-z_][A-Za-z0-9_.]*/, label: 'a graph name (@g)' });

export const Arrow = createToken({ name: 'Arrow', pattern: /->/, label: "'->'" });
export const NegInf = createToken({ name: 'NegInf', pattern: /-inf/, label: "'-inf'" });
export const Float = createToken({
  name: 'Float',
  pattern: /-?[0-9]+(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)/,
  label: 'a float',
});
export const Int = createToken({ name: 'Int', pattern: /-?[0-9]+/, label: 'an integer' });
export const Str = createToken({
  name: 'Str',
  pattern: /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/,
  label: 'a string',
});

export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'" });
export const LBrace = createToken({ name: 'LBrace', pattern: /\{/, label: "'{'" });
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/, label: "'}'" });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/, label: "']'" });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: "','" });
export const Colon = createToken({ name: 'Colon', pattern: /:/, label: "':'" });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: "'='" });

/** In matching order: keywords before identifiers, floats before integers. */
export const ALL_TOKENS: TokenType[] = [
  WhiteSpace, Comment,
  GraphKw, ReturnKw, Ident,
  ValueName, GraphName,
  Arrow, NegInf, Float, Int, Str,
  LParen, RParen, LBrace, RBrace, LBracket, RBracket, Comma, Colon, Equals,
];

const lexer = new Lexer(ALL_TOKENS, { positionTracking: 'full', ensureOptimizations: true });

/** How a character looks in a message: printable ones quoted, others as U+XXXX. */
export function describeChar(text: string, offset: number): string {
  const cp = text.codePointAt(offset);
  if (cp === undefined) return 'end of input';
  if (cp >= 0x21 && cp < 0x7f) return `'${String.fromCodePoint(cp)}'`;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

export function tokenize(text: string, file?: string): IToken[] {
  return lex(text, file).tokens;
}

/** The tokens and, apart, the `//` comments. */
export function lex(text: string, file?: string): { tokens: IToken[]; comments: IToken[] } {
  const res = lexer.tokenize(text);
  const err = res.errors[0];
  if (err) {
    const loc: Loc = { file, line: err.line ?? 1, col: err.column ?? 1 };
    const detail =
      text[err.offset] === '"'
        ? 'unterminated string literal, or a bad escape or control character inside it'
        : `unexpected character ${describeChar(text, err.offset)}`;
    throw new AmpcError('E0001', detail, loc);
  }
  return { tokens: res.tokens, comments: res.groups.comments ?? [] };
}
