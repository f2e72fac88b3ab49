/** When a message stops being worth sending, and what an attempt answers once it is. */
export interface SendDeadline<Outcome> {
  at: Date;
  /**
   * Soft: a late attempt leaves the row for a later one (the caller plans the send again). Hard: the message is
   * worthless after `at`: an unsent row is closed as missed. Either way Twilio is told to drop it at `at`
   * (ValidityPeriod), so a message its queue still holds then (a sender slower than its configured rate) does not go
   * out past it (a step: not more than a minute past it): a step after the lead's window, a reminder after the next
   * one's time or the start. Twilio reports it failed (30036).
   */
  hard: boolean;
  /** What an attempt past `at` answers when nothing went out. */
  outcomeWhenMissed: Outcome;
}

/** The skip reason of a row closed because its hard deadline passed before it went out. */
export const missedSkipReason = 'missed';

/** Twilio accepts ValidityPeriod from 1 s to 10 h (error 21624 outside that). */
const maxValiditySeconds = 36_000;

const secondsLeft = (deadline: SendDeadline<unknown>) => (deadline.at.getTime() - Date.now()) / 1000;

/** A hard deadline needs a second left at least: Twilio's smallest ValidityPeriod. */
export const isTooLate = (deadline: SendDeadline<unknown>) => secondsLeft(deadline) < (deadline.hard ? 1 : 0);

/**
 * A soft deadline is a step's window closing: a step claimed in its last seconds may go out as long after it as the
 * claim's lease already allows, rather than be dropped by Twilio (30036) after the workflow counted it sent.
 */
const softValidityFloorSeconds = 60;

/** How long Twilio may keep a message in its queue: until the deadline, within what Twilio accepts. */
export const validityPeriodSeconds = (deadline: SendDeadline<unknown>) =>
  Math.min(
    Math.max(deadline.hard ? 1 : softValidityFloorSeconds, Math.floor(secondsLeft(deadline))),
    maxValiditySeconds,
  );

/**
 * The deadline, brought forward to where the lead's window ends as the send gate judged it when it claimed the message:
 * a step's deadline was planned with the zone and settings its run last had, and a narrower window since (or another
 * zone) would otherwise let Twilio's queue hold the message past the lead's evening.
 */
export const endingBy = <Outcome>(deadline: SendDeadline<Outcome>, windowClosesAt: Date | undefined) =>
  windowClosesAt && windowClosesAt < deadline.at ? { ...deadline, at: windowClosesAt } : deadline;
