import type { RelationMappings } from 'objection';
import { type Channel, channelWrite } from '../schemas/channel';
import { BaseModel } from './base-model';
import { ProcessingJobModel } from './processing-job';
import { VideoModel } from './video';

export interface ChannelModel extends Channel {}

/** A YouTube channel; its columns and their rules come from `schemas/channel.ts`. */
export class ChannelModel extends BaseModel {
  static override tableName = 'channels';
  static writeSchema = channelWrite;

  /** The channel's videos (Video.channel is the inverse). */
  declare videos?: VideoModel[];
  /** Jobs about this channel (ProcessingJob.channel is the inverse). */
  declare jobs?: ProcessingJobModel[];

  static override relationMappings = (): RelationMappings => ({
    videos: {
      relation: BaseModel.HasManyRelation,
      modelClass: VideoModel,
      join: { from: 'channels.id', to: 'videos.channel_id' },
    },
    jobs: {
      relation: BaseModel.HasManyRelation,
      modelClass: ProcessingJobModel,
      join: { from: 'channels.id', to: 'processing_jobs.entity_id' },
      filter: (query) => query.where('processing_jobs.entity_type', 'channel').modify('withoutLeaseToken'),
    },
  });
}
