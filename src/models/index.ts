export { BaseModel } from './base-model';
export { ChannelModel } from './channel';
export { ProcessingJobModel } from './processing-job';
export { ProcessingSessionModel } from './processing-session';
export { TranscriptModel } from './transcript';
export { VideoModel } from './video';
