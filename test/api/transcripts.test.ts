import { describe, expect, it } from 'vitest';
import { transcriptFactory, videoFactory } from '../../dev/factories';
import type { Page } from '../../src/schemas/pagination';
import type { Transcript } from '../../src/schemas/transcript';
import type { TranscriptWithRelations } from '../../src/schemas/responses';
import { useApi } from '../support/api';

const api = useApi();

describe('transcripts API', () => {
  it('derives the word count from the content unless one is given', async () => {
    const video = await videoFactory.create();
    const { wordCount: _ignored, ...input } = transcriptFactory.build({
      videoId: video.id,
      content: 'one two  three\nfour',
    });
    const created = await api.mutate<Transcript>('transcripts.create', input);
    expect(created.data.wordCount).toBe(4);
    const updated = await api.mutate<Transcript>('transcripts.update', {
      id: created.data.id,
      content: 'just two',
    });
    expect(updated.data.wordCount).toBe(2);
    const stated = await api.mutate<Transcript>('transcripts.update', {
      id: created.data.id,
      content: 'a b c',
      wordCount: 7,
    });
    expect(stated.data.wordCount).toBe(7);
    // Zero and null are counts given too (a music video's transcript; a count cleared), not a request to count.
    for (const wordCount of [0, null]) {
      const given = await api.mutate<Transcript>('transcripts.update', {
        id: created.data.id,
        content: 'a b c',
        wordCount,
      });
      expect(given.data.wordCount).toBe(wordCount);
    }
    await api.mutate<Transcript>('transcripts.update', { id: created.data.id, wordCount: 7 });
    const untouched = await api.mutate<Transcript>('transcripts.update', {
      id: created.data.id,
      metadata: { edited: true },
    });
    expect(untouched.data).toMatchObject({ wordCount: 7, metadata: { edited: true } });
    const explicit = await api.mutate<Transcript>('transcripts.create', {
      ...input,
      language: 'zh-Hant',
      wordCount: 99,
    });
    expect(explicit.data.wordCount).toBe(99);
  });

  it('keeps a confidence score to the full precision of a JavaScript number', async () => {
    const video = await videoFactory.create();
    const created = await api.mutate<{ id: string }>('transcripts.create', {
      videoId: video.id,
      content: 'precise',
      source: 'youtube_auto',
      confidenceScore: 0.123456789,
    });
    const read = await api.query<{ confidenceScore: number }>('transcripts.get', { id: created.data.id });
    expect(read.data.confidenceScore).toBe(0.123456789);
  });

  it('rejects a language that is not BCP-47, a confidence over 1 and an unknown source', async () => {
    const video = await videoFactory.create();
    const response = await api.mutate('transcripts.create', {
      ...transcriptFactory.build({ videoId: video.id }),
      language: 'english',
      confidenceScore: 1.5,
      source: 'whisper',
    });
    expect(response.status).toBe(400);
    const paths = response.error?.data.issues?.map((issue) => issue.path.join('.')).sort();
    expect(paths).toEqual(['confidenceScore', 'language', 'source']);
  });

  it('responds with CONFLICT for a second transcript of the same video, language and source', async () => {
    const transcript = await transcriptFactory.create({ language: 'pt-BR' });
    const response = await api.mutate(
      'transcripts.create',
      transcriptFactory.build({
        videoId: transcript.videoId,
        language: 'pt-BR',
        source: transcript.source,
      }),
    );
    expect(response.status).toBe(409);
  });

  it('responds with BAD_REQUEST naming videoId for a video that does not exist', async () => {
    const response = await api.mutate(
      'transcripts.create',
      transcriptFactory.build({ videoId: '00000000-0000-4000-8000-000000000006' }),
    );
    expect(response.status).toBe(400);
    expect(response.error?.data.field).toBe('videoId');
  });

  it('reads a transcript with its video, lists by video, language and source, and deletes', async () => {
    const transcript = await transcriptFactory.trait('manual').create({ language: 'ja' });
    const read = await api.query<TranscriptWithRelations>('transcripts.get', {
      id: transcript.id,
      include: ['video'],
    });
    expect(read.data.video?.id).toBe(transcript.videoId);
    const page = await api.query<Page<Transcript>>('transcripts.list', {
      videoId: transcript.videoId,
      language: 'ja',
      source: 'youtube_manual',
      createdAfter: new Date(Date.now() - 60_000),
    });
    expect(page.data.items.map((t) => t.id)).toEqual([transcript.id]);
    expect((await api.mutate('transcripts.delete', { id: transcript.id })).status).toBe(200);
    expect((await api.query('transcripts.get', { id: transcript.id })).status).toBe(404);
  });
});
