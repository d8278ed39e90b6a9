// The `nn` namespace: modules that own named parameters, PyTorch-style.
export { Module } from './module.ts';
export { Linear } from './linear.ts';
export type { LinearOptions } from './linear.ts';
export { Conv2d, MaxPool2d, AvgPool2d } from './conv.ts';
export type { Conv2dBlockOptions, Pool2dBlockOptions } from './conv.ts';
export { BatchNorm2d, LayerNorm } from './norm.ts';
export type { BatchNorm2dOptions, LayerNormBlockOptions } from './norm.ts';
export { ReLU, GELU, Tanh, Sigmoid, Flatten, Sequential, ModuleList } from './layers.ts';
export { MultiheadAttention, scaledDotProductAttention } from './attention.ts';
export type { AttentionOptions, MultiheadAttentionOptions } from './attention.ts';
export { Embedding } from './embedding.ts';
export { Dropout } from './dropout.ts';
export { Parameter, Buffer, StateTensor, zerosInit, onesInit, uniformInit, normalInit, bitsInit, valuesInit } from '../state.ts';
export type { Init } from '../state.ts';
export { initialValues, fanInInit, Rng } from './init.ts';
