-- When the lead was sent its one opt-out confirmation: a further request to stop gets none.
ALTER TABLE "opt_outs" ADD COLUMN "confirmed_at" TIMESTAMPTZ(3);
