import type { RelationMappings } from 'objection';
import { type ProcessingSession, processingSessionWrite } from '../schemas/processing-session';
import { BaseModel } from './base-model';
import { ProcessingJobModel } from './processing-job';

export interface ProcessingSessionModel extends ProcessingSession {}

/** A bulk run and its progress; its columns and their rules come from `schemas/processing-session.ts`. */
export class ProcessingSessionModel extends BaseModel {
  static override tableName = 'processing_sessions';
  static writeSchema = processingSessionWrite;

  /** The session's jobs (ProcessingJob.session is the inverse). */
  declare jobs?: ProcessingJobModel[];

  static override relationMappings = (): RelationMappings => ({
    jobs: {
      relation: BaseModel.HasManyRelation,
      modelClass: ProcessingJobModel,
      join: { from: 'processing_sessions.id', to: 'processing_jobs.session_id' },
      filter: 'withoutLeaseToken',
    },
  });
}
