import { eventSchema } from "@berth/core";
import { canonicalizerFor, type JsonShape } from "@berth/tlog";
import { z } from "zod";

/** The keys of a zod object schema, nested objects as shapes of their own, anything else as any value. */
function shapeOf(schema: z.ZodObject): JsonShape {
  return Object.fromEntries(
    Object.entries(schema.shape).map(([key, value]) => [
      key,
      value instanceof z.ZodObject ? shapeOf(value) : true,
    ]),
  );
}

/**
 * The RFC 8785 text of an event, the leaf of its log entry, specialised for the event's keys
 * (read from core's schema, so the two cannot drift apart; a value the shape does not fit
 * would still be canonicalised correctly, only slower).
 */
export const canonicalEvent = canonicalizerFor(shapeOf(eventSchema));
