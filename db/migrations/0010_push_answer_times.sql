-- A push is not a poll: it must not count toward a provider's per-number query cap (Kuaidi100 48/24 h, the
-- poll floor), which read last_polled_at / recent_polls. Pushes now stamp last_pushed_at instead, and both
-- paths stamp last_answer_at: the last time a provider told us anything about the parcel (poll reply or push).
ALTER TABLE "shipments" ADD COLUMN "last_pushed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "shipments" ADD COLUMN "last_answer_at" timestamp with time zone;--> statement-breakpoint
-- Until now every answer (pushes included) was recorded as a poll.
UPDATE "shipments" SET "last_answer_at" = "last_polled_at" WHERE "last_polled_at" IS NOT NULL;
