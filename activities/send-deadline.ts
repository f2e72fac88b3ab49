/** When a message stops being worth sending, and what an attempt answers once it is. */
export interface SendDeadline<Outcome> {
  at: Date;
  /**
   * Soft: a late attempt leaves the row for a later one (the caller plans the send again). Hard: the message is
   * worthless after `at`: an unsent row is closed as missed. Either way Twilio is told to drop it at `at`
   * (ValidityPeriod), so a message its queue still holds then (a sender slower than its configured rate) never goes
   * out past it: a step past the lead's window, a reminder past its appointment. Twilio reports it failed (30036).
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

/** How long Twilio may keep a message in its queue: until the deadline, within what Twilio accepts. */
export const validityPeriodSeconds = (deadline: SendDeadline<unknown>) =>
  Math.min(Math.max(1, Math.floor(secondsLeft(deadline))), maxValiditySeconds);
