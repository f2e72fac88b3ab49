-- When an appointment's start last moved: a confirm word answering a text sent before it was of an earlier start, so it
-- confirms nothing (api/webhooks/appointment-replies.ts).
ALTER TABLE "appointments" ADD COLUMN "moved_at" TIMESTAMPTZ(3);
