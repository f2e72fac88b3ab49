import { describe, expect, it } from 'vitest';
import { leadWindow, stricterStateOf } from '../../common/state-windows.js';

const evening = { start: '08:00', end: '21:00' };
const stateOf = (phone: string) => stricterStateOf(phone)?.name;

describe('the window of a lead in a state that allows texts in shorter hours', () => {
  it('knows the states by area code, those whose places the data names by town too, and no others', () => {
    expect(stateOf('+13055550100')).toBe('Florida');
    // 203 and 728 are named by their towns only ("Stamford, CT", "Palm Beach, FL").
    expect(stateOf('+12035550100')).toBe('Connecticut');
    expect(stateOf('+17285550100')).toBe('Florida');
    expect(stateOf('+18605550100')).toBe('Connecticut');
    expect(stateOf('+14105550100')).toBe('Maryland');
    expect(stateOf('+19185550100')).toBe('Oklahoma');
    expect(stateOf('+12065550100')).toBe('Washington State');
    // Washington D.C., New York, Toronto, toll-free, and a UK number.
    for (const phone of ['+12025550100', '+12125550100', '+14165550100', '+18005550100', '+447700900123'])
      expect(stateOf(phone)).toBeUndefined();
  });

  it('is the tenant’s within the state’s: Connecticut’s from 09:00, the others’ from 08:00, all to 20:00', () => {
    expect(leadWindow(evening, '+13055550100')).toEqual({ start: '08:00', end: '20:00' });
    expect(leadWindow(evening, '+12035550100')).toEqual({ start: '09:00', end: '20:00' });
    expect(leadWindow({ start: '07:00', end: '24:00' }, '+13055550100')).toEqual({ start: '08:00', end: '20:00' });
    expect(leadWindow({ start: '09:30', end: '19:00' }, '+13055550100')).toEqual({ start: '09:30', end: '19:00' });
    expect(leadWindow(evening, '+12125550100')).toBe(evening);
  });

  it('is the state’s when the tenant’s leaves no time, or less than a usable window, inside it', () => {
    for (const window of [
      { start: '20:30', end: '23:00' },
      { start: '19:55', end: '21:00' },
    ])
      expect(leadWindow(window, '+13055550100')).toEqual({ start: '08:00', end: '20:00' });
  });
});
