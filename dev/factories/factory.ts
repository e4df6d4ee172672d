import type { Faker } from '@faker-js/faker';
import { fake } from './fake';

/** Overrides reach into JSONB objects; arrays and dates are replaced whole. */
export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends Date | readonly unknown[] | null
    ? T[K]
    : T[K] extends Record<string, unknown>
      ? DeepPartial<T[K]>
      : T[K];
};

/** Where a factory reads the time: the real clock unless `at()` hands it another. */
export type Clock = () => Date;

const realClock: Clock = () => new Date();

export interface FactoryContext<Transient> {
  /** 1, 2, 3, ... per factory; `resetSequences()` starts it again. */
  sequence: number;
  faker: Faker;
  transient: Transient;
  /**
   * The moment the object is built as of, read from the factory's clock once per object: every time the object
   * holds is drawn relative to it, and the parents and children it creates are built as of the same moment.
   */
  now: Date;
}

export interface FactoryDefinition<Attrs extends object, Row, Trait extends string, Transient> {
  /** A valid, unsaved object. Foreign keys are placeholders until `associate` resolves them on create. */
  defaults(context: FactoryContext<Transient>): Attrs;
  /** Named states that keep related fields consistent; applied in order, and overrides still win. */
  traits: Record<Trait, (attrs: Attrs, context: FactoryContext<Transient>) => Partial<Attrs>>;
  /**
   * Fields defined from the final values of others (after traits and overrides), in the order written, each
   * seeing the ones before it; so cross-field rules hold whatever the caller overrides. A field the caller gives
   * keeps the caller's value, and the fields after it are derived from that value.
   */
  dependent?: { [K in keyof Attrs]?: (attrs: Attrs, context: FactoryContext<Transient>) => Attrs[K] };
  /** Parameters that shape the object or its callbacks without being columns. */
  transient: Transient;
  /** Creates the parent rows the caller did not provide; `given` holds the caller's overrides. */
  associate?(
    attrs: Attrs,
    given: DeepPartial<Attrs>,
    context: FactoryContext<Transient>,
  ): Promise<Partial<Attrs>>;
  /** Saves objects in one statement and returns the saved rows. */
  persist(attrs: Attrs[]): PromiseLike<Row[]>;
  /** Runs on each built object, dependent fields included, before it is returned or saved. */
  afterBuild?(attrs: Attrs, context: FactoryContext<Transient>): Attrs;
  /** Runs after each row is saved (has-many helpers); returns the row the caller gets. */
  afterCreate?(row: Row, context: FactoryContext<Transient>): Promise<Row>;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

function deepMerge<T extends object>(base: T, overrides: DeepPartial<T>): T {
  const merged: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const current = merged[key];
    merged[key] =
      isPlainObject(current) && isPlainObject(value)
        ? deepMerge(current, value as DeepPartial<typeof current>)
        : value;
  }
  return merged as T;
}

const resetters = new Set<() => void>();

/** Starts every factory's sequence from 1 again. */
export function resetSequences(): void {
  for (const reset of resetters) reset();
}

/**
 * A factory in the manner of factory_bot: `build` / `create`, lists, traits, transient parameters, sequences,
 * associations and after-create callbacks. Each `trait()` or `transient()` call returns a new factory.
 */
export class Factory<Attrs extends object, Row, Trait extends string, Transient extends object> {
  private readonly counter: { value: number };

  constructor(
    private readonly definition: FactoryDefinition<Attrs, Row, Trait, Transient>,
    private readonly applied: { traits: readonly Trait[]; transient: Transient; clock: Clock } = {
      traits: [],
      transient: definition.transient,
      clock: realClock,
    },
    counter?: { value: number },
  ) {
    this.counter = counter ?? { value: 0 };
    if (!counter) resetters.add(() => (this.counter.value = 0));
  }

  /** The names of every trait, for lints that try them all. */
  get traitNames(): Trait[] {
    return Object.keys(this.definition.traits) as Trait[];
  }

  trait(...traits: Trait[]): Factory<Attrs, Row, Trait, Transient> {
    return new Factory(
      this.definition,
      { ...this.applied, traits: [...this.applied.traits, ...traits] },
      this.counter,
    );
  }

  transient(values: Partial<Transient>): Factory<Attrs, Row, Trait, Transient> {
    const transient = { ...this.applied.transient, ...values };
    return new Factory(this.definition, { ...this.applied, transient }, this.counter);
  }

  /** Builds as of `now`, a fixed moment or a clock read once per object, instead of the real clock. */
  at(now: Date | Clock): Factory<Attrs, Row, Trait, Transient> {
    const clock = typeof now === 'function' ? now : () => now;
    return new Factory(this.definition, { ...this.applied, clock }, this.counter);
  }

  private context(): FactoryContext<Transient> {
    this.counter.value += 1;
    return {
      sequence: this.counter.value,
      faker: fake,
      transient: this.applied.transient,
      now: this.applied.clock(),
    };
  }

  private buildWith(context: FactoryContext<Transient>, overrides: DeepPartial<Attrs>): Attrs {
    // Traits see the caller's overrides (an exhausted job uses the given maxAttempts), and overrides still win.
    let attrs = deepMerge(this.definition.defaults(context), overrides);
    for (const trait of this.applied.traits) {
      attrs = { ...attrs, ...this.definition.traits[trait](attrs, context) };
    }
    attrs = deepMerge(attrs, overrides);
    const { dependent, afterBuild } = this.definition;
    if (dependent) {
      const derived = { ...attrs } as Record<keyof Attrs, unknown>;
      for (const key of Object.keys(dependent) as (keyof Attrs)[]) {
        if (overrides[key] === undefined) derived[key] = dependent[key]!(derived as Attrs, context);
      }
      attrs = derived as Attrs;
    }
    return afterBuild ? afterBuild(attrs, context) : attrs;
  }

  build(overrides: DeepPartial<Attrs> = {}): Attrs {
    return this.buildWith(this.context(), overrides);
  }

  buildList(count: number, overrides: DeepPartial<Attrs> = {}): Attrs[] {
    return Array.from({ length: count }, () => this.build(overrides));
  }

  async create(overrides: DeepPartial<Attrs> = {}): Promise<Row> {
    const [row] = await this.createList(1, overrides);
    return row as Row;
  }

  /** Saves the list in one statement; parents are created first for objects that lack them. */
  async createList(count: number, overrides: DeepPartial<Attrs> = {}): Promise<Row[]> {
    const contexts = Array.from({ length: count }, () => this.context());
    const built = await Promise.all(
      contexts.map(async (context) => {
        const attrs = this.buildWith(context, overrides);
        const parents = this.definition.associate
          ? await this.definition.associate(attrs, overrides, context)
          : {};
        return { ...attrs, ...parents };
      }),
    );
    const rows = await this.definition.persist(built);
    const { afterCreate } = this.definition;
    if (!afterCreate) return rows;
    return Promise.all(rows.map((row, index) => afterCreate(row, contexts[index]!)));
  }
}
