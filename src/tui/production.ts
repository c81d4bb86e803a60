// Imported first by app.ts, so it runs before React and Ink are evaluated: without NODE_ENV React loads its
// development build, which is several times slower per frame (prop diffing, performance.measure on every commit).
// Only fills in a missing value; tests (NODE_ENV=test) and explicit settings are left alone.
process.env.NODE_ENV ??= 'production';
export {};
