import type { MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';

/** A class the discovery found. */
export type DiscoveredClass = abstract new (...args: never[]) => unknown;

/** The classes among `wrappers` (a factory's or a value provider's product is not one). */
export function* classesOf(wrappers: readonly InstanceWrapper[]): Generator<DiscoveredClass> {
  for (const wrapper of wrappers) {
    const type = wrapper.metatype as DiscoveredClass | null | undefined;
    if (typeof type === 'function' && type.prototype && !wrapper.inject) yield type;
  }
}

/** A method of a discovered class. */
type Method = (...args: never[]) => unknown;

/** Each method of `type` (inherited ones too, as Nest's scanner lists them) with its function. */
export function* methodsOf(type: DiscoveredClass, scanner: MetadataScanner): Generator<[string, Method]> {
  const prototype = type.prototype as Record<string, unknown>;
  for (const method of scanner.getAllMethodNames(prototype)) {
    const handler = prototype[method];
    if (typeof handler === 'function') yield [method, handler as Method];
  }
}
