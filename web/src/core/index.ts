// The DataChannel rules with no I/O (a port of src/core): what the client layer builds on.

export * from './bytes.js';
export * from './channelIdAllocator.js';
export * from './endpoint.js';
export * from './errors.js';
export * from './frame.js';
export * from './localCall.js';
export * from './options.js';
export * from './pathSwitch.js';
export * from './payloadCipher.js';
export * from './queue.js';
export * from './rateLimit.js';
export * from './reassembler.js';
export * from './receiverChannel.js';
export * from './roster.js';
export * from './routing.js';
export * from './scheduler.js';
export * from './senderChannel.js';
export * from './tokenBucket.js';
export * from './trafficClass.js';
