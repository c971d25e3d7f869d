// Drives Datagate's JSON Data API with astra-db-ts, DataStax's TypeScript
// client, unmodified. Usage: node session.mjs BASE_URL TOKEN. Exits non-zero
// (with the failing step) when anything is off.
import { DataAPIClient, DataAPIResponseError, CollectionInsertManyError } from '@datastax/astra-db-ts';
import assert from 'node:assert/strict';

const [base, token] = process.argv.slice(2);

async function rejects(what, fn, type) {
  try {
    await fn();
  } catch (e) {
    if (type && !(e instanceof type)) throw new Error(`${what}: wrong error ${e}`);
    return e;
  }
  throw new Error(`${what}: expected an error`);
}

const client = new DataAPIClient({ environment: 'hcd', logging: [] });
const db = client.db(base, { token });
const admin = db.admin({ environment: 'hcd' });
await admin.createKeyspace('tsks', { updateDbKeyspace: true });
assert.ok((await admin.listKeyspaces()).includes('tsks'), 'listKeyspaces');

const people = await db.createCollection('people');
const vecs = await db.createCollection('vecs', { vector: { dimension: 2, metric: 'dot_product' } });
assert.deepEqual((await db.listCollections({ nameOnly: true })).sort(), ['people', 'vecs'], 'listCollections');

assert.equal((await people.insertOne({ _id: 'ada', name: 'Ada', age: 36, tags: ['math'] })).insertedId, 'ada', 'insertOne');
const many = await people.insertMany(
  Array.from({ length: 30 }, (_, i) => ({ _id: `p${String(i).padStart(2, '0')}`, age: i, group: i % 3 })),
  { ordered: true },
);
assert.equal(many.insertedCount, 30, 'insertMany');
await rejects('duplicate', () => people.insertMany([{ _id: 'ada' }], { ordered: true }), CollectionInsertManyError);
// Ordered: a taken id in the middle stops the batch, and nothing after it is written.
const cut = await rejects('ordered conflict',
  () => people.insertMany([{ _id: 'o1' }, { _id: 'ada' }, { _id: 'o2' }], { ordered: true }), CollectionInsertManyError);
assert.deepEqual(cut.insertedIds(), ['o1'], 'ordered insertedIds');
assert.equal(await people.findOne({ _id: 'o2' }), null, 'nothing after the conflict');
// Unordered: every other document is written; the taken and the repeated id are errors.
const rest = await rejects('unordered conflicts',
  () => people.insertMany([{ _id: 'u1' }, { _id: 'ada' }, { _id: 'u2' }, { _id: 'u1' }], { ordered: false }),
  CollectionInsertManyError);
assert.deepEqual([...rest.insertedIds()].sort(), ['u1', 'u2'], 'unordered insertedIds');
assert.equal((await people.deleteMany({ _id: { $in: ['o1', 'u1', 'u2'] } })).deletedCount, 3, 'cleanup');

assert.equal((await people.findOne({ _id: 'ada' })).name, 'Ada', 'findOne');
assert.equal(await people.findOne({ _id: 'nobody' }), null, 'findOne no match');
assert.equal((await people.find({}).toArray()).length, 31, 'find pages');
assert.deepEqual(
  await people.find({ group: 2 }, { sort: { age: -1 }, projection: { age: 1 }, skip: 1, limit: 2 }).toArray(),
  [{ _id: 'p26', age: 26 }, { _id: 'p23', age: 23 }],
  'sort/skip/limit/projection',
);
assert.equal(await people.countDocuments({ age: { $lt: 10 } }, 100), 10, 'countDocuments');
assert.equal(await people.estimatedDocumentCount(), 31, 'estimatedDocumentCount');
assert.deepEqual((await people.distinct('group')).sort(), [0, 1, 2], 'distinct');

const up = await people.updateOne({ _id: 'ada' }, { $set: { city: 'London' }, $addToSet: { tags: 'code' } });
assert.equal(up.modifiedCount, 1, 'updateOne');
const ups = await people.updateOne({ _id: 'zed' }, { $set: { age: 99 } }, { upsert: true });
assert.equal(ups.upsertedId, 'zed', 'upsert');
const um = await people.updateMany({ age: { $lt: 25 } }, { $inc: { age: 100 } });
assert.equal(um.matchedCount, 25, 'updateMany pages');
const after = await people.findOneAndUpdate({ _id: 'ada' }, { $pop: { tags: 1 } }, { returnDocument: 'after', projection: { tags: 1 } });
assert.deepEqual(after, { _id: 'ada', tags: ['math'] }, 'findOneAndUpdate');
assert.equal((await people.replaceOne({ _id: 'p29' }, { name: 'last' })).matchedCount, 1, 'replaceOne');
assert.equal((await people.findOneAndDelete({ _id: 'p28' }))._id, 'p28', 'findOneAndDelete');
assert.equal((await people.deleteOne({ _id: 'zed' })).deletedCount, 1, 'deleteOne');
assert.equal((await people.deleteMany({ age: { $gte: 100 } })).deletedCount, 25, 'deleteMany pages');

await vecs.insertMany([{ name: 'east', $vector: [1, 0] }, { name: 'north', $vector: [0, 1] }]);
const near = await vecs.find({}, { sort: { $vector: [0.9, 0.1] }, includeSimilarity: true, limit: 1 }).toArray();
assert.equal(near[0].name, 'east', 'vector sort');
assert.ok(Math.abs(near[0].$similarity - 0.95) < 1e-6, `similarity ${near[0].$similarity}`);

await rejects('unknown collection', () => db.collection('nope').findOne({}), DataAPIResponseError);
// The edge's 401 carries the Data API's error list, so the client raises its own error.
const denied = await rejects('bad token', () => client.db(base, { token: 'not-a-key', keyspace: 'tsks' }).listCollections(),
  DataAPIResponseError);
assert.equal(denied.errorDescriptors[0].errorCode, 'UNAUTHENTICATED_REQUEST');

await db.dropCollection('vecs');
await admin.dropKeyspace('tsks');
assert.ok(!(await admin.listKeyspaces()).includes('tsks'), 'dropKeyspace');
console.log('astra-db-ts session ok');
