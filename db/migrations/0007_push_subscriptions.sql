CREATE TABLE "shipment_subscriptions" (
	"shipment_id" bigint PRIMARY KEY NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"provider" text,
	"carrier" text,
	"tracking_no" text,
	"month" text,
	"attempts_this_month" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"subscribed_at" timestamp with time zone,
	"last_push_at" timestamp with time zone,
	"pushes" integer DEFAULT 0 NOT NULL,
	"last_reply_code" text,
	"last_reply_message" text,
	"abort_reason" text,
	"aborted_at" timestamp with time zone,
	"resubscribed_after_abort" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "shipment_subscriptions_next_attempt_at_idx" ON "shipment_subscriptions" USING btree ("next_attempt_at") WHERE "shipment_subscriptions"."next_attempt_at" is not null;--> statement-breakpoint
CREATE TABLE "push_receipts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"provider" text NOT NULL,
	"tracking_no" text NOT NULL,
	"shipment_id" bigint,
	"kind" text NOT NULL,
	"new_events" integer DEFAULT 0 NOT NULL,
	"raw" text,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "push_receipts_received_at_idx" ON "push_receipts" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "push_receipts_shipment_id_idx" ON "push_receipts" USING btree ("shipment_id") WHERE "push_receipts"."shipment_id" is not null;--> statement-breakpoint
CREATE TABLE "push_orphans" (
	"provider" text NOT NULL,
	"tracking_no" text NOT NULL,
	"carrier" text,
	"count" integer DEFAULT 1 NOT NULL,
	"first_at" timestamp with time zone NOT NULL,
	"last_at" timestamp with time zone NOT NULL,
	"raw" text,
	CONSTRAINT "push_orphans_provider_tracking_no_pk" PRIMARY KEY("provider","tracking_no")
);
--> statement-breakpoint
INSERT INTO "shipment_subscriptions" ("shipment_id", "next_attempt_at") SELECT "id", 'epoch'::timestamptz FROM "shipments";--> statement-breakpoint
-- Like shipment_schedule (0002): every insert path gets a subscription row, waiting for the subscribe
-- planner, which decides from config whether the shipment's provider takes subscriptions at all.
CREATE FUNCTION "shipments_subscription_rows"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "shipment_subscriptions" ("shipment_id", "next_attempt_at")
  SELECT "id", 'epoch'::timestamptz FROM "inserted";
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "shipments_subscription_rows" AFTER INSERT ON "shipments" REFERENCING NEW TABLE AS "inserted"
  FOR EACH STATEMENT EXECUTE FUNCTION "shipments_subscription_rows"();--> statement-breakpoint
CREATE FUNCTION "shipments_subscription_gone"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "shipment_subscriptions" x USING "deleted" d WHERE x."shipment_id" = d."id";
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "shipments_subscription_gone" AFTER DELETE ON "shipments" REFERENCING OLD TABLE AS "deleted"
  FOR EACH STATEMENT EXECUTE FUNCTION "shipments_subscription_gone"();--> statement-breakpoint
CREATE FUNCTION "shipments_subscription_truncated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE "shipment_subscriptions";
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "shipments_subscription_truncated" AFTER TRUNCATE ON "shipments"
  FOR EACH STATEMENT EXECUTE FUNCTION "shipments_subscription_truncated"();--> statement-breakpoint
-- A new tracking number or carrier must be subscribed again, unless the subscription already names them
-- (a carrier corrected by the provider's own push, ingest/push.ts, is written to the subscription first).
-- Row-level with a column list: the poll path's updates never set these columns, so it never fires there.
CREATE FUNCTION "shipments_subscription_moved"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "shipment_subscriptions" SET "state" = 'pending', "next_attempt_at" = 'epoch'::timestamptz
  WHERE "shipment_id" = NEW."id" AND "carrier" IS NOT NULL
    AND ("carrier" IS DISTINCT FROM NEW."carrier" OR "tracking_no" IS DISTINCT FROM NEW."tracking_no");
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "shipments_subscription_moved" AFTER UPDATE OF "carrier", "tracking_no" ON "shipments"
  FOR EACH ROW WHEN (OLD."carrier" IS DISTINCT FROM NEW."carrier" OR OLD."tracking_no" IS DISTINCT FROM NEW."tracking_no")
  EXECUTE FUNCTION "shipments_subscription_moved"();
