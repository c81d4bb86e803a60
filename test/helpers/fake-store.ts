// The in-memory store lives with the other test doubles in test/support/; this path keeps older imports working.
export { FakeStore, approved } from '../support/fake-store.js';
