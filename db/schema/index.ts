export * from './orders.js';
export * from './shipments.js';
export * from './tracking-events.js';
export * from './exceptions.js';
export * from './outreach.js';
export * from './chases.js';
export * from './ops.js';
export * from './push.js';
