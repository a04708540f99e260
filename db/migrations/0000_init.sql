CREATE TABLE "orders" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"platform" text NOT NULL,
	"external_id" text NOT NULL,
	"type" text DEFAULT 'normal' NOT NULL,
	"paid_at" timestamp with time zone NOT NULL,
	"promised_ship_by" timestamp with time zone,
	"amount" numeric(12, 2) DEFAULT 0 NOT NULL,
	"currency" text DEFAULT 'CNY' NOT NULL,
	"customer_name" text,
	"customer_phone" text,
	"customer_handle" text,
	"next_check_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "shipments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" bigint NOT NULL,
	"carrier" text NOT NULL,
	"tracking_no" text NOT NULL,
	"marked_shipped_at" timestamp with time zone,
	"collected_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"last_event_at" timestamp with time zone,
	"last_event_text" text,
	"last_hub" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"status_since" timestamp with time zone,
	"provider_flags" text[] DEFAULT '{}'::text[] NOT NULL,
	"next_poll_at" timestamp with time zone,
	"last_polled_at" timestamp with time zone,
	"recent_polls" timestamp with time zone[] DEFAULT '{}'::timestamptz[] NOT NULL,
	"poll_count" integer DEFAULT 0 NOT NULL,
	"poll_error_kind" text,
	"poll_error" text,
	"poll_error_at" timestamp with time zone,
	"poll_error_count" integer DEFAULT 0 NOT NULL,
	"next_check_at" timestamp with time zone,
	"extra" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "poll_quarantine" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"shipment_id" bigint,
	"provider" text NOT NULL,
	"error_kind" text NOT NULL,
	"error" text NOT NULL,
	"raw" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tracking_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"shipment_id" bigint NOT NULL,
	"event_key" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"status" text NOT NULL,
	"hub" text,
	"location" text,
	"text" text NOT NULL,
	"provider" text NOT NULL,
	"provider_code" text,
	"raw" jsonb,
	"seen_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "exception_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"exception_id" bigint NOT NULL,
	"action" text NOT NULL,
	"from_severity" text,
	"to_severity" text,
	"note" text,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "exceptions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" bigint NOT NULL,
	"shipment_id" bigint,
	"type" text NOT NULL,
	"severity" text NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"opened_at" timestamp with time zone NOT NULL,
	"escalated_at" timestamp with time zone,
	"resolved_at" timestamp with time zone,
	"resolution" text,
	"deadline_at" timestamp with time zone,
	"penalty_yuan" numeric(10, 2),
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"outreach_task_id" bigint,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "outreach_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"task_id" bigint NOT NULL,
	"channel" text NOT NULL,
	"event" text NOT NULL,
	"version" integer NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "outreach_tasks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"order_id" bigint NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"type" text NOT NULL,
	"severity" text NOT NULL,
	"priority" integer NOT NULL,
	"reason" text NOT NULL,
	"script" text NOT NULL,
	"due_by" timestamp with time zone NOT NULL,
	"agent" text,
	"outcome" text,
	"compensation_yuan" numeric(10, 2),
	"notes" text,
	"cancel_reason" text,
	"version" integer DEFAULT 1 NOT NULL,
	"overdue_at" timestamp with time zone,
	"snapshot" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"claimed_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"cancelled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "chases" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"shipment_id" bigint NOT NULL,
	"contact" text NOT NULL,
	"channel" text NOT NULL,
	"note" text,
	"status" text DEFAULT 'active' NOT NULL,
	"end_reason" text,
	"baseline_hub" text,
	"last_notified_hub" text,
	"registered_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"chase_id" bigint NOT NULL,
	"dedupe_key" text NOT NULL,
	"kind" text NOT NULL,
	"hub" text,
	"occurred_at" timestamp with time zone,
	"contact" text NOT NULL,
	"channel" text NOT NULL,
	"message" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"send_after" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "alerts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"message" text NOT NULL,
	"count" integer DEFAULT 1 NOT NULL,
	"first_at" timestamp with time zone NOT NULL,
	"last_at" timestamp with time zone NOT NULL,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "provider_usage" (
	"provider" text NOT NULL,
	"day" date NOT NULL,
	"calls" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "provider_usage_provider_day_pk" PRIMARY KEY("provider","day")
);
--> statement-breakpoint
ALTER TABLE "shipments" ADD CONSTRAINT "shipments_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "poll_quarantine" ADD CONSTRAINT "poll_quarantine_shipment_id_shipments_id_fk" FOREIGN KEY ("shipment_id") REFERENCES "public"."shipments"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tracking_events" ADD CONSTRAINT "tracking_events_shipment_id_shipments_id_fk" FOREIGN KEY ("shipment_id") REFERENCES "public"."shipments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "exception_history" ADD CONSTRAINT "exception_history_exception_id_exceptions_id_fk" FOREIGN KEY ("exception_id") REFERENCES "public"."exceptions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "exceptions" ADD CONSTRAINT "exceptions_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "exceptions" ADD CONSTRAINT "exceptions_shipment_id_shipments_id_fk" FOREIGN KEY ("shipment_id") REFERENCES "public"."shipments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "outreach_deliveries" ADD CONSTRAINT "outreach_deliveries_task_id_outreach_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."outreach_tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "outreach_tasks" ADD CONSTRAINT "outreach_tasks_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chases" ADD CONSTRAINT "chases_shipment_id_shipments_id_fk" FOREIGN KEY ("shipment_id") REFERENCES "public"."shipments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_chase_id_chases_id_fk" FOREIGN KEY ("chase_id") REFERENCES "public"."chases"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "orders_platform_external_id_key" ON "orders" USING btree ("platform","external_id");--> statement-breakpoint
CREATE INDEX "orders_next_check_at_idx" ON "orders" USING btree ("next_check_at") WHERE "orders"."next_check_at" is not null;--> statement-breakpoint
CREATE INDEX "orders_external_id_idx" ON "orders" USING btree ("external_id");--> statement-breakpoint
CREATE UNIQUE INDEX "shipments_carrier_tracking_no_key" ON "shipments" USING btree ("carrier","tracking_no");--> statement-breakpoint
CREATE INDEX "shipments_order_id_idx" ON "shipments" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "shipments_tracking_no_idx" ON "shipments" USING btree ("tracking_no");--> statement-breakpoint
CREATE INDEX "shipments_next_poll_at_idx" ON "shipments" USING btree ("next_poll_at") WHERE "shipments"."next_poll_at" is not null;--> statement-breakpoint
CREATE INDEX "shipments_next_check_at_idx" ON "shipments" USING btree ("next_check_at") WHERE "shipments"."next_check_at" is not null;--> statement-breakpoint
CREATE INDEX "poll_quarantine_created_idx" ON "poll_quarantine" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "tracking_events_shipment_key" ON "tracking_events" USING btree ("shipment_id","event_key");--> statement-breakpoint
CREATE INDEX "tracking_events_shipment_occurred_idx" ON "tracking_events" USING btree ("shipment_id","occurred_at");--> statement-breakpoint
CREATE INDEX "exception_history_exception_idx" ON "exception_history" USING btree ("exception_id");--> statement-breakpoint
CREATE UNIQUE INDEX "exceptions_one_open_key" ON "exceptions" USING btree ("order_id",coalesce("shipment_id", 0),"type") WHERE "exceptions"."status" = 'open';--> statement-breakpoint
CREATE INDEX "exceptions_status_type_idx" ON "exceptions" USING btree ("status","type","opened_at");--> statement-breakpoint
CREATE INDEX "exceptions_shipment_idx" ON "exceptions" USING btree ("shipment_id");--> statement-breakpoint
CREATE INDEX "exceptions_task_idx" ON "exceptions" USING btree ("outreach_task_id") WHERE "exceptions"."outreach_task_id" is not null;--> statement-breakpoint
CREATE INDEX "exceptions_open_unlinked_idx" ON "exceptions" USING btree ("order_id") WHERE "exceptions"."status" = 'open' and "exceptions"."outreach_task_id" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "outreach_deliveries_key" ON "outreach_deliveries" USING btree ("task_id","channel","event","version");--> statement-breakpoint
CREATE UNIQUE INDEX "outreach_tasks_one_active_key" ON "outreach_tasks" USING btree ("order_id") WHERE "outreach_tasks"."status" in ('open', 'claimed');--> statement-breakpoint
CREATE INDEX "outreach_tasks_status_priority_idx" ON "outreach_tasks" USING btree ("status","priority","due_by");--> statement-breakpoint
CREATE UNIQUE INDEX "chases_active_key" ON "chases" USING btree ("shipment_id","contact") WHERE "chases"."status" = 'active';--> statement-breakpoint
CREATE INDEX "chases_shipment_idx" ON "chases" USING btree ("shipment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_dedupe_key" ON "notifications" USING btree ("dedupe_key");--> statement-breakpoint
CREATE INDEX "notifications_pending_idx" ON "notifications" USING btree ("send_after") WHERE "notifications"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "notifications_contact_sent_idx" ON "notifications" USING btree ("contact","sent_at");--> statement-breakpoint
CREATE INDEX "notifications_chase_idx" ON "notifications" USING btree ("chase_id");--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_open_key" ON "alerts" USING btree ("key") WHERE "alerts"."resolved_at" is null;