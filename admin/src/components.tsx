import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from './api';
import { useSigned } from './session';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => Promise<void>;
}

/**
 * Runs `load` now and whenever `keys` change (and every `everyMs` when given), keeping the last data while a new
 * load runs, so a refresh does not blank the view.
 */
export function useLoad<T>(load: () => Promise<T>, keys: unknown[], everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const latest = useRef(load);
  latest.current = load;
  const reload = useCallback(async () => {
    try {
      setData(await latest.current());
      setError(undefined);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }, []);
  useEffect(() => {
    void reload();
    if (!everyMs) return undefined;
    const timer = setInterval(() => void reload(), everyMs);
    return () => clearInterval(timer);
  }, keys);
  return { data, error, reload };
}

export function ErrorNote({ error }: { error: string | undefined }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

/**
 * A button that changes something: enabled for admins only (a reader's token is rejected by the API anyway), busy
 * while its call runs, and reporting a failure beside itself.
 */
export function ActionButton(props: {
  onClick: () => Promise<unknown>;
  children: ComponentChildren;
  kind?: 'primary' | 'danger';
  disabled?: boolean;
  name?: string;
}) {
  const { canChange } = useSigned();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const click = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onClick();
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button
        type="button"
        name={props.name}
        class={props.kind ?? ''}
        disabled={!canChange || busy || props.disabled}
        title={canChange ? undefined : 'A reader token changes nothing'}
        onClick={() => void click()}
      >
        {props.children}
      </button>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

const units: [number, string][] = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'min'],
  [1_000, 's'],
];

/** A span of time in its largest unit: `3 min`, `2 h`. */
export function duration(ms: number): string {
  const size = Math.abs(ms);
  for (const [unit, name] of units) if (size >= unit) return `${Math.floor(size / unit)} ${name}`;
  return '0 s';
}

/** When something happened or is due, against the server's clock where the caller has it. */
export function Ago({ at, now = new Date() }: { at: Date | null | undefined; now?: Date }) {
  if (!at) return <span class="muted">—</span>;
  const ms = now.getTime() - at.getTime();
  return (
    <time dateTime={at.toISOString()} title={at.toISOString()}>
      {ms >= 0 ? `${duration(ms)} ago` : `in ${duration(ms)}`}
    </time>
  );
}

export const Status = ({ status }: { status: string }) => (
  <span class={`status status-${status}`}>{status}</span>
);

export const number = (value: number) => value.toLocaleString('en');

/** An action that asks once more before it runs, saying what it will do. */
export function ConfirmAction(props: {
  label: string;
  question: string;
  confirmLabel: string;
  onConfirm: () => Promise<unknown>;
  name?: string;
}) {
  const { canChange } = useSigned();
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button
        type="button"
        name={props.name}
        class="danger"
        disabled={!canChange}
        title={canChange ? undefined : 'A reader token changes nothing'}
        onClick={() => setAsking(true)}
      >
        {props.label}
      </button>
    );
  return (
    <span class="confirm" role="group" aria-label={props.question}>
      <span>{props.question}</span>
      <ActionButton kind="danger" name={`${props.name ?? 'action'}-confirm`} onClick={props.onConfirm}>
        {props.confirmLabel}
      </ActionButton>
      <button type="button" onClick={() => setAsking(false)}>
        Keep
      </button>
    </span>
  );
}
