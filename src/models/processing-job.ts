import type { Modifiers, RelationMappings } from 'objection';
import { type ProcessingJobRow, processingJobSchema, processingJobWrite } from '../schemas/processing-job';
import { BaseModel } from './base-model';
import { ChannelModel } from './channel';
import { columnOf } from './columns';
import { ProcessingSessionModel } from './processing-session';
import { VideoModel } from './video';

export interface ProcessingJobModel extends ProcessingJobRow {}

/**
 * A unit of queued work about one channel or video (`entityType` + `entityId`); its columns and their rules come
 * from `schemas/processing-job.ts`.
 */
export class ProcessingJobModel extends BaseModel {
  static override tableName = 'processing_jobs';
  static writeSchema = processingJobWrite;

  /**
   * `withoutLeaseToken`: the columns a response shows (`processingJobSchema`), so a job read for one never holds
   * its lease token; every read of jobs, and every relation to them, selects through it.
   */
  static override modifiers: Modifiers = {
    withoutLeaseToken: (query) =>
      query.select(Object.keys(processingJobSchema.shape).map((key) => `processing_jobs.${columnOf(key)}`)),
  };

  /** The session that groups it, if any (ProcessingSession.jobs is the inverse). */
  declare session?: ProcessingSessionModel | null;
  /** The channel it is about, when `entityType` is `channel` (Channel.jobs is the inverse). */
  declare channel?: ChannelModel | null;
  /** The video it is about, when `entityType` is `video` (Video.jobs is the inverse). */
  declare video?: VideoModel | null;

  /*
   * The polymorphic side joins on entity_id alone: ids are random UUIDs, so a video's id never matches a
   * channel and the relation of the other type simply comes back empty.
   */
  static override relationMappings = (): RelationMappings => ({
    session: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: ProcessingSessionModel,
      join: { from: 'processing_jobs.session_id', to: 'processing_sessions.id' },
    },
    channel: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: ChannelModel,
      join: { from: 'processing_jobs.entity_id', to: 'channels.id' },
    },
    video: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: VideoModel,
      join: { from: 'processing_jobs.entity_id', to: 'videos.id' },
    },
  });
}
