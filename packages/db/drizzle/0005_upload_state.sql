ALTER TABLE "upload_sessions" ADD COLUMN "state" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "upload_sessions" ADD COLUMN "writer" uuid;--> statement-breakpoint
ALTER TABLE "upload_sessions" ADD COLUMN "writer_until" timestamp with time zone;