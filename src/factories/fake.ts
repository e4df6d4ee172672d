import { base, en, Faker } from '@faker-js/faker';

/** The one Faker every factory draws from; seed it for a repeatable database. */
export const fake = new Faker({ locale: [en, base] });

export const defaultSeed = 20_261_124;
fake.seed(defaultSeed);
