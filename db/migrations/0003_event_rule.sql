-- Which text rule or provider code decided each event's status (shown by `shipment show`); NULL for events
-- stored before this column existed.
ALTER TABLE "tracking_events" ADD COLUMN "rule" text;--> statement-breakpoint
-- Unclassified events are rare by design: a small partial index lets ops list the recent ones without a scan.
CREATE INDEX "tracking_events_unknown_seen_idx" ON "tracking_events" USING btree ("seen_at") WHERE "tracking_events"."status" = 'unknown';
