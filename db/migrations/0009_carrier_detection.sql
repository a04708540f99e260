ALTER TABLE "shipments" ADD COLUMN "carrier_given" text;--> statement-breakpoint
ALTER TABLE "shipments" ADD COLUMN "carrier_detected_by" text;--> statement-breakpoint
ALTER TABLE "shipments" ADD COLUMN "carrier_detected_at" timestamp with time zone;