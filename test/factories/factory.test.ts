import { describe, expect, it } from 'vitest';
import { channelFactory, transcriptFactory, useFactoryDatabase } from '../../src/factories';
import { Factory } from '../../src/factories/factory';
import { languageMarkers } from '../../src/factories/speech';
import { testDatabase } from '../support/database';

interface Trip {
  leaves: Date;
  arrives: Date | null;
  hours: number;
  label: string;
}

const hour = 3_600_000;

/** A small factory with one dependent chain (arrives from leaves and hours) and a label written last. */
const tripFactory = new Factory<Trip, Trip, 'overnight', object>({
  defaults: () => ({ leaves: new Date('2026-01-01T08:00:00Z'), arrives: null, hours: 2, label: '' }),
  traits: { overnight: () => ({ hours: 10 }) },
  dependent: {
    arrives: (trip) => new Date(trip.leaves.getTime() + trip.hours * hour),
    label: (trip) => `${trip.leaves.toISOString()} -> ${trip.arrives!.toISOString()}`,
  },
  afterBuild: (trip) => ({ ...trip, label: trip.label.replaceAll(':00.000Z', 'Z') }),
  transient: {},
  persist: async (rows) => rows,
});

describe('a factory’s dependent attributes', () => {
  it('are derived from the final values of the others, after traits and overrides', () => {
    const trip = tripFactory.trait('overnight').build({ leaves: new Date('2026-03-01T20:00:00Z') });
    expect(trip.arrives).toEqual(new Date('2026-03-02T06:00:00Z'));
  });

  it('keep a value the caller gives, and derive the fields after it from that value', () => {
    const trip = tripFactory.build({ arrives: new Date('2026-01-01T09:30:00Z') });
    expect(trip.arrives).toEqual(new Date('2026-01-01T09:30:00Z'));
    expect(trip.label).toBe('2026-01-01T08:00Z -> 2026-01-01T09:30Z');
  });

  it('are seen by afterBuild, which has the last word on every object built or created', async () => {
    expect(tripFactory.build().label).toBe('2026-01-01T08:00Z -> 2026-01-01T10:00Z');
    const [created] = await tripFactory.createList(1, { hours: 1 });
    expect(created!.label).toBe('2026-01-01T08:00Z -> 2026-01-01T09:00Z');
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
