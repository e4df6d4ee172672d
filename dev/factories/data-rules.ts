import type { z } from 'zod';
import { type JobType, jobResults, videoStatusForJob } from '../../src/schemas/processing-job';
import { countWords } from '../../src/schemas/transcript';
import type { ProcessingJobAttrs } from './processing-job';
import type { ProcessingSessionAttrs } from './processing-session';
import { languageMarkers, type SpokenLanguage, type TimedSegment } from './speech';
import type { TranscriptAttrs } from './transcript';
import type { VideoAttrs } from './video';

/**
 * The rules TubeSensei's data obeys, in one place: the factories' objects are held to the row rules (a property
 * test tries every factory and trait under random overrides), and a seeded database to every rule's SQL, which
 * counts the rows that break it. A new rule goes here, with its SQL and, when one row can break it, its check.
 */

interface Rows {
  video: VideoAttrs;
  transcript: TranscriptAttrs;
  job: ProcessingJobAttrs;
  session: ProcessingSessionAttrs;
}

export interface DataRule<Table extends keyof Rows = keyof Rows> {
  /** What holds, as a sentence. */
  rule: string;
  /** A query whose one column, `violations`, counts the rows that break the rule. */
  sql: string;
  /** The same rule for one unsaved object, where one row alone can break it. */
  row?: { table: Table; holds: (row: Rows[Table]) => boolean };
}

const rowRule = <Table extends keyof Rows>(
  rule: string,
  sql: string,
  table: Table,
  holds: (row: Rows[Table]) => boolean,
): DataRule => ({ rule, sql, row: { table, holds } as DataRule['row'] });

const count = (from: string) => `SELECT count(*)::integer AS violations FROM ${from}`;
/** `countWords` in SQL: the words of a transcript's content. */
const contentWords = `CASE WHEN btrim(content) = '' THEN 0
                           ELSE array_length(regexp_split_to_array(btrim(content), '\\s+'), 1) END`;
const time = (value: Date | null | undefined) => value?.getTime();
/** `later` is not before `earlier`, or one of them is unset. */
const inOrder = (earlier: Date | null | undefined, later: Date | null | undefined) =>
  earlier == null || later == null || time(later)! >= time(earlier)!;

const wordsOf = (text: string) => new Set(text.toLowerCase().match(/[a-záéíóúñü]+/g) ?? []);
const speaks = (text: string, language: SpokenLanguage) => {
  const words = wordsOf(text);
  const other: SpokenLanguage = language === 'en' ? 'es' : 'en';
  return (
    languageMarkers[language].some((w) => words.has(w)) && !languageMarkers[other].some((w) => words.has(w))
  );
};
const markerPattern = (language: SpokenLanguage) => `'\\m(${languageMarkers[language].join('|')})\\M'`;

const segmentsOf = (metadata: TranscriptAttrs['metadata']) =>
  (metadata?.segments as unknown as TimedSegment[] | undefined) ?? undefined;

/** SQL that is true when a completed job's result has exactly its type's keys. */
const resultShape = (type: JobType) => {
  const keys = Object.keys((jobResults[type] as z.ZodObject).shape).sort();
  return `(job_type = '${type}' AND jsonb_typeof(result) = 'object'
           AND ARRAY(SELECT jsonb_object_keys(result) ORDER BY 1) = ARRAY[${keys.map((k) => `'${k}'`).join(', ')}]::text[])`;
};

export const dataRules: DataRule[] = [
  rowRule(
    'a video is discovered no earlier than it was published',
    count('videos WHERE discovered_at < published_at'),
    'video',
    (v) => inOrder(v.publishedAt, v.discoveredAt),
  ),
  rowRule(
    'a video is processed no earlier than it was discovered',
    count('videos WHERE processed_at < discovered_at'),
    'video',
    (v) => inOrder(v.discoveredAt, v.processedAt),
  ),
  rowRule(
    'a completed video has been processed, and only a completed one',
    count(`videos WHERE (status = 'completed') <> (processed_at IS NOT NULL)`),
    'video',
    (v) => (v.status === 'completed') === (v.processedAt != null),
  ),
  rowRule(
    'a video has no more likes or comments than views',
    count('videos WHERE like_count > view_count OR comment_count > view_count'),
    'video',
    (v) => (v.likeCount ?? 0) <= (v.viewCount ?? 0) && (v.commentCount ?? 0) <= (v.viewCount ?? 0),
  ),
  rowRule(
    "a video's tags are each named once",
    count('videos WHERE cardinality(tags) <> (SELECT count(DISTINCT tag) FROM unnest(tags) AS tag)'),
    'video',
    (v) => new Set(v.tags ?? []).size === (v.tags ?? []).length,
  ),
  {
    rule: 'a video is discovered no earlier than its channel was first followed',
    sql: count('videos v JOIN channels c ON c.id = v.channel_id WHERE v.discovered_at < c.created_at'),
  },
  rowRule(
    "a transcript's word count counts its content",
    count(`transcripts WHERE word_count IS DISTINCT FROM ${contentWords}`),
    'transcript',
    (t) => t.wordCount === countWords(t.content),
  ),
  rowRule(
    'a transcript tagged English or Spanish is spoken in that language',
    count(`transcripts WHERE (language LIKE 'en%' AND (content !~* ${markerPattern('en')} OR content ~* ${markerPattern('es')}))
                          OR (language LIKE 'es%' AND (content !~* ${markerPattern('es')} OR content ~* ${markerPattern('en')}))`),
    'transcript',
    (t) =>
      !/^(en|es)/.test(t.language ?? '') || speaks(t.content, t.language!.startsWith('es') ? 'es' : 'en'),
  ),
  rowRule(
    "a transcript's timed segments run one after another from the start, and show every word once",
    count(`transcripts t WHERE t.metadata -> 'segments' IS NOT NULL AND (
             ${contentWords} IS DISTINCT FROM (SELECT sum((s ->> 'words')::integer)
                                              FROM jsonb_array_elements(t.metadata -> 'segments') s)
             OR EXISTS (SELECT 1 FROM (
                          SELECT (s ->> 'start')::numeric AS start,
                                 sum((s ->> 'duration')::numeric) OVER (ORDER BY n ROWS BETWEEN UNBOUNDED PRECEDING
                                                                         AND 1 PRECEDING) AS before
                            FROM jsonb_array_elements(t.metadata -> 'segments') WITH ORDINALITY AS e (s, n)) timed
                         WHERE abs(start - coalesce(before, 0)) > 0.011))`),
    'transcript',
    (t) => {
      const segments = segmentsOf(t.metadata);
      if (!segments) return true;
      let at = 0;
      for (const segment of segments) {
        if (Math.abs(segment.start - at) > 0.011) return false;
        at += segment.duration;
      }
      return segments.reduce((sum, segment) => sum + segment.words, 0) === countWords(t.content);
    },
  ),
  {
    rule: "a transcript's timed segments add up to its video's duration",
    sql: count(`transcripts t JOIN videos v ON v.id = t.video_id
                WHERE t.metadata -> 'segments' IS NOT NULL AND abs(v.duration_seconds - (
                        SELECT sum((s ->> 'duration')::numeric) FROM jsonb_array_elements(t.metadata -> 'segments') s)) > 0.05`),
  },
  {
    rule: 'a transcript is stored no earlier than its video was discovered',
    sql: count('transcripts t JOIN videos v ON v.id = t.video_id WHERE t.created_at < v.discovered_at'),
  },
  rowRule(
    'a job on its first attempt starts no earlier than it was due',
    count(`processing_jobs WHERE attempts <= 1 AND status <> 'queued' AND started_at < run_after`),
    'job',
    (j) => (j.attempts ?? 0) > 1 || j.status === 'queued' || inOrder(j.runAfter, j.startedAt),
  ),
  rowRule(
    'a job completes no earlier than it started',
    count('processing_jobs WHERE completed_at < started_at'),
    'job',
    (j) => inOrder(j.startedAt, j.completedAt),
  ),
  rowRule(
    'a running job holds a lease, and no other job does',
    count(
      `processing_jobs WHERE (status = 'running') <> (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)`,
    ),
    'job',
    (j) => (j.status === 'running') === (j.leaseToken != null && j.leaseExpiresAt != null),
  ),
  rowRule(
    "a completed job's result has its type's shape, and an unfinished job has none",
    count(`processing_jobs WHERE (status = 'completed' AND NOT (${Object.keys(jobResults)
      .map((type) => resultShape(type as JobType))
      .join(' OR ')}))
           OR (status IN ('queued', 'running') AND result IS NOT NULL)`),
    'job',
    (j) =>
      j.status === 'completed'
        ? jobResults[j.jobType].safeParse(j.result).success
        : !['queued', 'running'].includes(j.status ?? 'queued') || j.result == null,
  ),
  {
    rule: 'a job starts no earlier than it was created',
    sql: count('processing_jobs WHERE started_at < created_at'),
  },
  {
    rule: 'a job about a video is created no earlier than the video was discovered',
    sql: count(`processing_jobs j JOIN videos v ON v.id = j.entity_id
                WHERE j.entity_type = 'video' AND j.created_at < v.discovered_at`),
  },
  {
    rule: "a completed transcript job's result counts the words of a transcript of its video",
    sql: count(`processing_jobs j WHERE j.job_type = 'transcript_extraction' AND j.status = 'completed'
                AND NOT EXISTS (SELECT 1 FROM transcripts t WHERE t.video_id = j.entity_id
                                 AND t.word_count = (j.result ->> 'wordCount')::integer
                                 AND t.language = j.result ->> 'language')`),
  },
  {
    rule: 'a completed video has a transcript',
    sql: count(`videos v WHERE v.status = 'completed'
                AND NOT EXISTS (SELECT 1 FROM transcripts t WHERE t.video_id = v.id)`),
  },
  {
    rule: "a video's status follows its queued or running transcript job",
    sql: count(`processing_jobs j JOIN videos v ON v.id = j.entity_id
                WHERE j.job_type = 'transcript_extraction' AND j.status IN ('queued', 'running')
                  AND v.status <> 'completed'
                  AND v.status::text <> CASE j.status WHEN 'queued' THEN '${videoStatusForJob.queued}'
                                                      ELSE '${videoStatusForJob.running}' END`),
  },
  {
    rule: 'a queued or processing video has a queued or running transcript job',
    sql: count(`videos v WHERE v.status IN ('queued', 'processing')
                AND NOT EXISTS (SELECT 1 FROM processing_jobs j WHERE j.entity_id = v.id
                                 AND j.job_type = 'transcript_extraction' AND j.status IN ('queued', 'running'))`),
  },
  {
    rule: "a session's processedVideos counts its completed jobs",
    sql: count(`processing_sessions s WHERE s.processed_videos <> (
                  SELECT count(*) FROM processing_jobs j WHERE j.session_id = s.id AND j.status = 'completed')`),
  },
  {
    rule: "a session's progress counts equal its jobs, status by status",
    sql: count(`(SELECT session_id, status, sum(jobs) AS jobs FROM processing_session_job_counts
                  GROUP BY session_id, status HAVING sum(jobs) <> 0) counted
                FULL JOIN (SELECT session_id, status, count(*) AS jobs FROM processing_jobs
                            WHERE session_id IS NOT NULL GROUP BY session_id, status) actual
                  USING (session_id, status)
                WHERE counted.jobs IS DISTINCT FROM actual.jobs`),
  },
  {
    rule: "a channel's video count is at least the videos stored for it",
    sql: count('channels c WHERE c.video_count < (SELECT count(*) FROM videos v WHERE v.channel_id = c.id)'),
  },
  rowRule(
    'a session completes no earlier than it started',
    count('processing_sessions WHERE completed_at < started_at'),
    'session',
    (s) => inOrder(s.startedAt, s.completedAt),
  ),
  rowRule(
    'a finished session (completed or failed) has a completion time, and no other session has one',
    count(`processing_sessions WHERE (status IN ('completed', 'failed')) <> (completed_at IS NOT NULL)`),
    'session',
    (s) => (s.status === 'completed' || s.status === 'failed') === (s.completedAt != null),
  ),
];

export interface Violation {
  rule: string;
  violations: number;
}

/** Runs every rule's SQL; returns the rules some rows break, with how many. */
export async function checkDataRules(
  query: (sql: string) => Promise<{ rows: { violations: number }[] }>,
): Promise<Violation[]> {
  const broken: Violation[] = [];
  for (const { rule, sql } of dataRules) {
    const { rows } = await query(sql);
    if (rows[0]!.violations > 0) broken.push({ rule, violations: rows[0]!.violations });
  }
  return broken;
}
