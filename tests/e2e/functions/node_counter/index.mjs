// The official tenant-isolation sample's function (src/multi-tenant-function/index.mjs):
// a counter in memory and in /tmp/counter.txt, and the tenant from ctx.tenantId.
import fs from 'node:fs';

const COUNTER_FILE = '/tmp/counter.txt';
let memoryCounter = 0;

export const handler = async (event, ctx) => {
  memoryCounter += 1;
  let diskCounter = 0;
  if (fs.existsSync(COUNTER_FILE)) {
    diskCounter = parseInt(fs.readFileSync(COUNTER_FILE, 'utf8'), 10);
  }
  diskCounter += 1;
  fs.writeFileSync(COUNTER_FILE, String(diskCounter));
  return {
    memoryCounter,
    diskCounter,
    tenantId: ctx.tenantId,
    // `undefined` vanishes from JSON; say explicitly whether the field exists at all.
    hasTenantId: 'tenantId' in ctx,
    requestId: ctx.awsRequestId,
    functionVersion: ctx.functionVersion,
  };
};
