import { CheckViolationError, ValidationError } from 'objection';
import { describe, expect, it } from 'vitest';
import { channelFactory } from '../../dev/factories';
import { BaseModel, ChannelModel } from '../../src/models';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

const rejectionOf = async (write: () => PromiseLike<unknown>): Promise<ValidationError> => {
  try {
    await write();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('the write was not rejected');
};

describe('a model’s writes', () => {
  it('are rejected, under the root, when they name a field the model does not have, and nothing is stored', async () => {
    const youtubeChannelId = `UC${'x'.repeat(20)}${Date.now().toString(36).slice(-2)}`;
    const error = await rejectionOf(() =>
      ChannelModel.query(db()).insert({
        name: 'A channel',
        youtubeChannelId,
        channelUrl: 'https://www.youtube.com/@a-channel',
        colour: 'teal',
      } as Partial<ChannelModel>),
    );
    expect(error.type).toBe('ModelValidation');
    expect(Object.keys(error.data as object)).toEqual(['(root)']);
    expect(error.message).toMatch(/colour/);
    expect(await db()('channels').where({ youtube_channel_id: youtubeChannelId }).first()).toBeUndefined();
  });

  it('are held to each field’s rule, naming each field that breaks one', async () => {
    const error = await rejectionOf(() =>
      ChannelModel.query(db()).insert({ name: ' ', channelUrl: 'ftp://example.com/feed' }),
    );
    expect(Object.keys(error.data as object).sort()).toEqual(['channelUrl', 'name', 'youtubeChannelId']);
  });

  it('need only the fields a patch changes, each still held to its rule', async () => {
    const channel = await channelFactory.create();
    const patched = await ChannelModel.query(db()).patchAndFetchById(channel.id, { subscriberCount: 12 });
    expect(patched).toMatchObject({ id: channel.id, name: channel.name, subscriberCount: 12 });
    const error = await rejectionOf(() =>
      ChannelModel.query(db()).patchAndFetchById(channel.id, { subscriberCount: -1 }),
    );
    expect(Object.keys(error.data as object)).toEqual(['subscriberCount']);
  });

  it('of a model that declares no write schema are stored as given, the database’s rules alone applying', async () => {
    class ChannelNames extends BaseModel {
      static override tableName = 'channels';
      declare name: string;
    }
    const channel = await channelFactory.create();
    const renamed = await ChannelNames.query(db()).patchAndFetchById(channel.id, { name: 'Renamed' });
    expect(renamed.name).toBe('Renamed');
    // Not checked on the way: the database's own check rejects it.
    await expect(ChannelNames.query(db()).patchAndFetchById(channel.id, { name: '' })).rejects.toBeInstanceOf(
      CheckViolationError,
    );
  });
});
