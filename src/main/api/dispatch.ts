/**
 * The one place where a request from any transport (Electron IPC, HTTP) becomes a handler call:
 * look the channel up in the contract, parse the argument with its strict zod schema, call the
 * handler, and wrap the outcome in an Envelope so errors cross the wire as clean messages.
 */
import {
  contract,
  type Envelope,
  type InvokeChannelName,
  type ParamsOut,
  type ResultOf,
} from '../../shared/ipc.ts';
import { formatIssuePath } from '../../shared/issues.ts';

/** One function per request channel, receiving already-validated params. */
export type ApiHandlers = {
  readonly [C in InvokeChannelName]: (params: ParamsOut<C>) => Promise<ResultOf<C>>;
};

/** A request whose argument does not match the channel's schema (or an unknown channel). */
export class ArgsError extends Error {
  override readonly name = 'ArgsError';
}

/** A request about a run, pipeline or file that does not exist. */
export class NotFoundError extends Error {
  override readonly name = 'NotFound';
}

/** True when `name` is a request channel of the contract. */
export function isInvokeChannel(name: string): name is InvokeChannelName {
  return Object.hasOwn(contract, name) && contract[name as InvokeChannelName].kind === 'invoke';
}

/**
 * Parse the raw argument of `channel`, throwing ArgsError naming the channel and every bad field.
 * This is the "strict wrapper" every transport goes through.
 */
export function parseParams<C extends InvokeChannelName>(channel: C, raw: unknown): ParamsOut<C> {
  const r = contract[channel].params.safeParse(raw === undefined ? {} : raw);
  if (r.success) return r.data as ParamsOut<C>;
  const details = r.error.issues
    .map((i) => `${formatIssuePath(i.path) || '(argument)'}: ${i.message}`)
    .join('; ');
  throw new ArgsError(`invalid arguments for '${channel}': ${details}`);
}

/** Turn any thrown value into the error half of an Envelope. */
export function errorEnvelope(err: unknown): Envelope<never> {
  if (err instanceof Error) return { ok: false, error: { kind: err.name, message: err.message } };
  return { ok: false, error: { kind: 'Error', message: String(err) } };
}

/** Validate and run one request; never throws. */
export async function dispatch(
  handlers: ApiHandlers,
  channel: string,
  raw: unknown,
): Promise<Envelope<unknown>> {
  try {
    if (!isInvokeChannel(channel)) throw new ArgsError(`unknown channel '${channel}'`);
    const params = parseParams(channel, raw);
    const handler = handlers[channel] as (p: unknown) => Promise<unknown>;
    const value = await handler(params);
    return { ok: true, value };
  } catch (err) {
    return errorEnvelope(err);
  }
}
