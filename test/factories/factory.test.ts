import { describe, expect, it } from 'vitest';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  transcriptFactory,
  useFactoryDatabase,
  videoFactory,
} from '../../dev/factories';
import { Factory } from '../../dev/factories/factory';
import { languageMarkers } from '../../dev/factories/speech';
import { testDatabase } from '../support/database';

interface Trip {
  leaves: Date;
  arrives: Date | null;
  hours: number;
  label: string;
}

const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;
const year = 365 * day;

/** A small factory with one dependent chain (arrives from leaves and hours) and a label written last. */
const tripFactory = new Factory<Trip, Trip, 'overnight', object>({
  defaults: ({ now }) => ({ leaves: now, arrives: null, hours: 2, label: '' }),
  traits: { overnight: () => ({ hours: 10 }) },
  dependent: {
    arrives: (trip) => new Date(trip.leaves.getTime() + trip.hours * hour),
    label: (trip) => `${trip.leaves.getTime()} -> ${trip.arrives!.getTime()}`,
  },
  afterBuild: (trip) => ({ ...trip, label: trip.label.replace('->', 'to') }),
  transient: {},
  persist: async (rows) => rows,
});

/** A whole minute, so the labels read plainly. */
const moment = new Date(Math.floor(Date.now() / minute) * minute);
const trips = tripFactory.at(moment);
const at = (offsetMs: number) => moment.getTime() + offsetMs;

describe('a factory’s dependent attributes', () => {
  it('are derived from the final values of the others, after traits and overrides', () => {
    const trip = trips.trait('overnight').build({ leaves: new Date(at(12 * hour)) });
    expect(trip.arrives).toEqual(new Date(at(22 * hour)));
  });

  it('keep a value the caller gives over the one a trait sets, and derive from it', () => {
    const trip = trips.trait('overnight').build({ hours: 3 });
    expect(trip).toMatchObject({ hours: 3, arrives: new Date(at(3 * hour)) });
    const job = processingJobFactory.trait('retrying').build({ errorMessage: 'quota exceeded', attempts: 2 });
    expect(job).toMatchObject({ status: 'queued', errorMessage: 'quota exceeded', attempts: 2 });
  });

  it('keep a value the caller gives, and derive the fields after it from that value', () => {
    const trip = trips.build({ arrives: new Date(at(90 * minute)) });
    expect(trip.arrives).toEqual(new Date(at(90 * minute)));
    expect(trip.label).toBe(`${at(0)} to ${at(90 * minute)}`);
  });

  it('are seen by afterBuild, which has the last word on every object built or created', async () => {
    expect(trips.build().label).toBe(`${at(0)} to ${at(2 * hour)}`);
    const [created] = await trips.createList(1, { hours: 1 });
    expect(created!.label).toBe(`${at(0)} to ${at(hour)}`);
  });
});

/** Times the database writes from its own clock, not the factories'. */
const databaseTimes = new Set(['createdAt', 'updatedAt', 'nextDiscoveryAt']);

/** Every time an object holds, its children's included, as milliseconds; not the database's own. */
function timesIn(value: unknown, seen = new Set<unknown>()): number[] {
  if (value instanceof Date) return [value.getTime()];
  if (typeof value !== 'object' || value === null || seen.has(value)) return [];
  seen.add(value);
  return Object.entries(value)
    .filter(([key]) => !databaseTimes.has(key))
    .flatMap(([, inner]) => timesIn(inner, seen));
}

type AnyFactory = Factory<object, object, string, object>;
const tubeFactories: [string, AnyFactory][] = [
  ['channel', channelFactory as unknown as AnyFactory],
  ['video', videoFactory as unknown as AnyFactory],
  ['transcript', transcriptFactory as unknown as AnyFactory],
  ['processing session', processingSessionFactory as unknown as AnyFactory],
  ['processing job', processingJobFactory as unknown as AnyFactory],
];

describe('a factory’s clock', () => {
  // The oldest time a factory draws is a video published up to five years before its moment; the latest, a
  // session finishing a few hours after starting.
  const drawnAround = (times: number[], now: number) => {
    for (const time of times) {
      expect(time).toBeGreaterThanOrEqual(now - 5 * year - day);
      expect(time).toBeLessThanOrEqual(now + day);
    }
  };

  it('is the real clock unless the factory is handed another', () => {
    const before = Date.now();
    const video = videoFactory.trait('completed').build();
    const after = Date.now();
    drawnAround(timesIn(video), before);
    expect(video.processedAt!.getTime()).toBeLessThanOrEqual(after);
  });

  for (const [name, factory] of tubeFactories) {
    it(`dates every ${name}, with each trait, as of the moment it is handed, years back or ahead`, () => {
      for (const offset of [-10 * year, -day, 5 * year]) {
        const now = Date.now() + offset;
        const times = [undefined, ...factory.traitNames].flatMap((trait) =>
          timesIn((trait ? factory.trait(trait) : factory).at(new Date(now)).build()),
        );
        drawnAround(times, now);
        // Each draws times, with one trait or another, except a transcript, which holds none.
        expect(times.length > 0).toBe(name !== 'transcript');
      }
    });
  }

  it('builds a running job whose lease is still live at its moment, so no claim takes the job over', () => {
    const now = new Date('2026-06-01T12:00:00Z');
    for (let index = 0; index < 50; index += 1) {
      const job = processingJobFactory.trait('running').at(now).build();
      expect(job.lockedAt!.getTime()).toBeLessThanOrEqual(now.getTime());
      expect(job.leaseExpiresAt!.getTime()).toBeGreaterThan(now.getTime());
    }
  });

  it('never discovers or processes a video after its moment, even one published just before it', () => {
    const now = new Date('2026-06-01T12:00:00Z');
    for (let index = 0; index < 50; index += 1) {
      const publishedAt = new Date(now.getTime() - (index + 1) * 60_000);
      const video = videoFactory.trait('completed').at(now).build({ publishedAt });
      expect(video.discoveredAt!.getTime()).toBeLessThanOrEqual(now.getTime());
      expect(video.processedAt!.getTime()).toBeLessThanOrEqual(now.getTime());
    }
  });

  it('dates the parents and children a factory creates as of its own moment', async () => {
    const now = Date.now() - 10 * year;
    const asOf = new Date(now);
    const job = await processingJobFactory.at(asOf).create();
    const created = [
      await channelFactory.at(asOf).transient({ videos: 2 }).create(),
      await processingSessionFactory.trait('completed').at(asOf).transient({ jobs: 2 }).create(),
      await videoFactory.at(asOf).transient({ transcript: true }).create(),
    ];
    const { db } = testDatabase();
    const parent = await db('videos').where({ id: job.entityId }).first();
    drawnAround([...timesIn(created), parent.published_at.getTime(), parent.discovered_at.getTime()], now);
  });

  it('is read once for each object, so a list can span a clock that moves', () => {
    const start = Date.now() - 10 * year;
    let reads = 0;
    const videos = videoFactory.at(() => new Date(start + reads++ * 5 * year)).buildList(3);
    expect(reads).toBe(3);
    videos.forEach((video, index) => drawnAround(timesIn(video), start + index * 5 * year));
  });
});

describe('the factories’ database', () => {
  it('must be named before a factory saves anything', async () => {
    useFactoryDatabase(undefined);
    try {
      await expect(channelFactory.create()).rejects.toThrow(
        'the factories have no database: call useFactoryDatabase(db) first',
      );
    } finally {
      useFactoryDatabase(testDatabase().db);
    }
  });

  it('speaks English in a transcript whose language is unknown', () => {
    const transcript = transcriptFactory.build({ language: null });
    const words = new Set(transcript.content.toLowerCase().match(/[a-z]+/g));
    expect(languageMarkers.en.some((word) => words.has(word))).toBe(true);
  });
});
