// The text-format example of design.md: the parser tests parse it and place
// errors in it by line and column; the fuzzer mutates it.

export const DESIGN_EXAMPLE = `// one module holds one or more graphs
graph @mlp(%x: f32[64,784], %w1: f32[784,256] {param}, %b1: f32[256] {param}) -> (f32[64,256]) {
  %0 = matmul %x, %w1 {acc = f32} : f32[64,256]
  %1 = add %0, %b1 : f32[64,256]
  %2 = relu %1 : f32[64,256]
  return %2
}
`;
