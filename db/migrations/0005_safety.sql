-- Chases count events by storage order, not by comparing clocks: the tracking_events id sequence value at
-- registration. Existing chases get the last event stored before their registered_at (what they used to compare).
ALTER TABLE "chases" ADD COLUMN "registered_after_event_id" bigint;--> statement-breakpoint
UPDATE "chases" c SET "registered_after_event_id" = coalesce(
  (SELECT max(e."id") FROM "tracking_events" e WHERE e."shipment_id" = c."shipment_id" AND e."seen_at" < c."registered_at"), 0);--> statement-breakpoint
ALTER TABLE "chases" ALTER COLUMN "registered_after_event_id" SET NOT NULL;--> statement-breakpoint
-- One row per running daemon process that schedules or works jobs; `run-once --now` far from wall time is
-- refused while a row is fresh. seen_at is the database's now(), so processes' own clocks never matter.
CREATE TABLE "daemon_heartbeats" (
	"instance_id" text PRIMARY KEY NOT NULL,
	"role" text NOT NULL,
	"host" text NOT NULL,
	"pid" integer NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"seen_at" timestamp with time zone NOT NULL
);
