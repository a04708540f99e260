CREATE SEQUENCE "public"."exception_change_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
ALTER TABLE "exceptions" ADD COLUMN "change_seq" bigint DEFAULT nextval('exception_change_seq') NOT NULL;--> statement-breakpoint
ALTER TABLE "outreach_tasks" ADD COLUMN "synced_seq" bigint DEFAULT 0 NOT NULL;