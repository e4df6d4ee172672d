import type { RelationMappings } from 'objection';
import { type Video, videoWrite } from '../schemas/video';
import { BaseModel } from './base-model';
import { ChannelModel } from './channel';
import { ProcessingJobModel } from './processing-job';
import { TranscriptModel } from './transcript';

export interface VideoModel extends Video {}

/** A YouTube video of one channel; its columns and their rules come from `schemas/video.ts`. */
export class VideoModel extends BaseModel {
  static override tableName = 'videos';
  static writeSchema = videoWrite;

  /** The channel that published it (Channel.videos is the inverse). */
  declare channel?: ChannelModel;
  /** Its transcripts (Transcript.video is the inverse). */
  declare transcripts?: TranscriptModel[];
  /** Jobs about this video (ProcessingJob.video is the inverse). */
  declare jobs?: ProcessingJobModel[];

  static override relationMappings = (): RelationMappings => ({
    channel: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: ChannelModel,
      join: { from: 'videos.channel_id', to: 'channels.id' },
    },
    transcripts: {
      relation: BaseModel.HasManyRelation,
      modelClass: TranscriptModel,
      join: { from: 'videos.id', to: 'transcripts.video_id' },
    },
    jobs: {
      relation: BaseModel.HasManyRelation,
      modelClass: ProcessingJobModel,
      join: { from: 'videos.id', to: 'processing_jobs.entity_id' },
      filter: (query) => query.where('processing_jobs.entity_type', 'video').modify('withoutLeaseToken'),
    },
  });
}
