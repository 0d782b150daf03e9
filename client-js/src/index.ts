// @ticksync/client: the TypeScript client of ticksync. connect() opens a session; the state
// mirror, interpolation and prediction are usable on their own as well.

export { connect, joinOrCreate, Client, ClientError, SUBPROTOCOL } from "./client.js";
export type {
  ClientEvents,
  ClientStats,
  CloseInfo,
  Clock,
  ConnectOptions,
  DesyncInfo,
  FrameEvent,
  PlayerInfo,
  ReconnectOptions,
  ReconnectingInfo,
  WebSocketCtor,
  WebSocketLike,
  WelcomeInfo,
} from "./client.js";
export { closeMessage, shouldReconnect } from "./close.js";
export { DecodeError, HandDecoder, ProtobufEsDecoder, frameFromProto, newDecoder } from "./decode.js";
export type { Decoded, DecoderKind } from "./decode.js";
export { Emitter } from "./emitter.js";
export type { Listener } from "./emitter.js";
export { FrameData, FramePartData, NO_EVENTS } from "./frame.js";
export type { GameEventData, MatchResultData } from "./frame.js";
export type { GameEvent, MatchResult, ReplayStatus, ViewGrid } from "./gen/ticksync/v1/messages_pb.js";
export { Fnv64, fnv1a64, hashHex, splitU64 } from "./hash.js";
export { Interpolator } from "./interp.js";
export type { InterpolatedEntity, InterpolatorOptions } from "./interp.js";
export { FrameError, MAX_ENTITY_ID, Mirror } from "./mirror.js";
export type { Entity, FieldValue } from "./mirror.js";
export { Predictor } from "./predict.js";
export type { PredictContext, PredictStep } from "./predict.js";
export { PREDICT_VECTORS_FORMAT, PredictVectorsError, checkPredict } from "./predictcheck.js";
export type { CheckPredictOptions, Mismatch, PredictCheck, PredictVectors, PredictVectorsMatch, PredictVectorsPlayer, PredictVectorsTick } from "./predictcheck.js";
export { predictValue } from "./predictrule.js";
export { Mulberry32 } from "./rng.js";
export { SchemaError, compileSchema, dequantize, quantize } from "./schema.js";
export type { ClassInfo, FieldInfo, FieldKind, Schema } from "./schema.js";
