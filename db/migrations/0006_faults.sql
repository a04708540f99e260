-- Deliveries and customer messages are claimed, sent and recorded without a transaction across the HTTP
-- call: lease_until marks a row owned by a send in flight or by a retry chain waiting for its backoff;
-- chain numbers the retry chains of a row, so a re-queue gets a job id no old job holds.
ALTER TABLE "outreach_deliveries" ADD COLUMN "lease_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "outreach_deliveries" ADD COLUMN "chain" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "lease_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "chain" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "outreach_deliveries_unsent_idx" ON "outreach_deliveries" USING btree ("id") WHERE "outreach_deliveries"."status" <> 'sent';
