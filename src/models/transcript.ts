import type { RelationMappings } from 'objection';
import { type Transcript, transcriptWrite } from '../schemas/transcript';
import { BaseModel } from './base-model';
import { VideoModel } from './video';

export interface TranscriptModel extends Transcript {}

/** A transcript of one video; its columns and their rules come from `schemas/transcript.ts`. */
export class TranscriptModel extends BaseModel {
  static override tableName = 'transcripts';
  static writeSchema = transcriptWrite;

  /** The video it transcribes (Video.transcripts is the inverse). */
  declare video?: VideoModel;

  static override relationMappings = (): RelationMappings => ({
    video: {
      relation: BaseModel.BelongsToOneRelation,
      modelClass: VideoModel,
      join: { from: 'transcripts.video_id', to: 'videos.id' },
    },
  });
}
