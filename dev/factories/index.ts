import { fake } from './fake';
import { resetSequences } from './factory';

export { channelFactory } from './channel';
export { processingJobFactory } from './processing-job';
export { processingSessionFactory } from './processing-session';
export { transcriptFactory } from './transcript';
export { discoveredVideos, videoFactory } from './video';
export { resetSequences } from './factory';
export { useFactoryDatabase } from './database';

/** Makes the next objects repeatable: the same seed number gives the same data. */
export function seedFactories(seed: number): void {
  fake.seed(seed);
  resetSequences();
}
