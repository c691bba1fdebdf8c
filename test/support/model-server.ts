export * from '../../src/demo/model-server.js';
