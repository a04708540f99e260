CREATE TABLE "shipment_schedule" (
	"shipment_id" bigint PRIMARY KEY NOT NULL,
	"next_poll_at" timestamp with time zone,
	"next_check_at" timestamp with time zone
);
--> statement-breakpoint
DROP INDEX "shipments_next_poll_at_idx";--> statement-breakpoint
DROP INDEX "shipments_next_check_at_idx";--> statement-breakpoint
CREATE INDEX "shipment_schedule_next_poll_at_idx" ON "shipment_schedule" USING btree ("next_poll_at") WHERE "shipment_schedule"."next_poll_at" is not null;--> statement-breakpoint
CREATE INDEX "shipment_schedule_next_check_at_idx" ON "shipment_schedule" USING btree ("next_check_at") WHERE "shipment_schedule"."next_check_at" is not null;--> statement-breakpoint
INSERT INTO "shipment_schedule" ("shipment_id", "next_poll_at", "next_check_at") SELECT "id", "next_poll_at", "next_check_at" FROM "shipments";--> statement-breakpoint
-- Every insert path (upsert, COPY, a test's own INSERT) gets its schedule row from one set-based trigger:
-- a new parcel is due for its first poll and its first judgement at once.
CREATE FUNCTION "shipments_schedule_rows"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "shipment_schedule" ("shipment_id", "next_poll_at", "next_check_at")
  SELECT "id", 'epoch'::timestamptz, 'epoch'::timestamptz FROM "inserted";
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "shipments_schedule_rows" AFTER INSERT ON "shipments" REFERENCING NEW TABLE AS "inserted"
  FOR EACH STATEMENT EXECUTE FUNCTION "shipments_schedule_rows"();--> statement-breakpoint
-- In place of a foreign key (whose per-row check slowed the importer by a third): a deleted parcel takes its
-- schedule row along, so no orphan stays due for ever.
CREATE FUNCTION "shipments_schedule_gone"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "shipment_schedule" c USING "deleted" d WHERE c."shipment_id" = d."id";
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "shipments_schedule_gone" AFTER DELETE ON "shipments" REFERENCING OLD TABLE AS "deleted"
  FOR EACH STATEMENT EXECUTE FUNCTION "shipments_schedule_gone"();--> statement-breakpoint
CREATE FUNCTION "shipments_schedule_truncated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE "shipment_schedule";
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "shipments_schedule_truncated" AFTER TRUNCATE ON "shipments"
  FOR EACH STATEMENT EXECUTE FUNCTION "shipments_schedule_truncated"();--> statement-breakpoint
ALTER TABLE "shipments" DROP COLUMN "next_poll_at";--> statement-breakpoint
ALTER TABLE "shipments" DROP COLUMN "next_check_at";