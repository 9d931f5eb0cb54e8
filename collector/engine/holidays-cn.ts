/**
 * Chinese public holidays (法定节假日, days off) and adjusted working days (调休上班, weekend days worked), as
 * published each year by the General Office of the State Council (国务院办公厅关于YYYY年部分节假日安排的通知).
 * Data, not code: calendar.ts reads it. Dates are local calendar days, YYYY-MM-DD.
 *
 * How to check or add a year: open the year's notice on www.gov.cn and compare each line below with the
 * notice's line for that holiday ("X月X日至X日放假调休，共X天。X月X日（周X）上班。"). A block of days off may start
 * in the previous year (2023's New Year's Day began on 2022-12-31); it is listed under the notice's year.
 *
 * Cross-check that test/engine-calendar.test.ts runs for every year: the weekdays given off minus the weekend
 * days worked equal the number of statutory holiday days (11 until 2024; 13 from 2025, after the 2024 revision
 * of 全国年节及纪念日放假办法 added New Year's Eve of the Spring Festival and 2 May), and the working days of the
 * year are: 2023: 249, 2024: 251, 2025: 248, 2026: 248.
 */

export interface HolidayBlock {
  /** English name of the holiday (or of the combined holidays). */
  name: string;
  /** Chinese name as in the notice. */
  name_zh: string;
  /** Days off of the block, YYYY-MM-DD, weekend days included (放假调休，共N天). */
  days_off: string[];
  /** Weekend days that are working days to make up for the block (调休上班), YYYY-MM-DD. */
  working_days: string[];
}

export interface HolidayYear {
  year: number;
  /** The notice the dates come from. */
  source: string;
  holidays: HolidayBlock[];
}

export const CN_HOLIDAYS: readonly HolidayYear[] = [
  {
    // 国办发明电〔2022〕16号, 2022-12-08 (document number from memory: check against the notice).
    year: 2023,
    source: '国务院办公厅关于2023年部分节假日安排的通知',
    holidays: [
      {
        name: "New Year's Day",
        name_zh: '元旦',
        // 2022年12月31日至2023年1月2日放假调休，共3天。
        days_off: ['2022-12-31', '2023-01-01', '2023-01-02'],
        working_days: [],
      },
      {
        name: 'Spring Festival',
        name_zh: '春节',
        // 1月21日至27日放假调休，共7天。1月28日（星期六）、1月29日（星期日）上班。
        days_off: ['2023-01-21', '2023-01-22', '2023-01-23', '2023-01-24', '2023-01-25', '2023-01-26', '2023-01-27'],
        working_days: ['2023-01-28', '2023-01-29'],
      },
      {
        name: 'Qingming Festival',
        name_zh: '清明节',
        // 4月5日放假，共1天。
        days_off: ['2023-04-05'],
        working_days: [],
      },
      {
        name: 'Labour Day',
        name_zh: '劳动节',
        // 4月29日至5月3日放假调休，共5天。4月23日（星期日）、5月6日（星期六）上班。
        days_off: ['2023-04-29', '2023-04-30', '2023-05-01', '2023-05-02', '2023-05-03'],
        working_days: ['2023-04-23', '2023-05-06'],
      },
      {
        name: 'Dragon Boat Festival',
        name_zh: '端午节',
        // 6月22日至24日放假调休，共3天。6月25日（星期日）上班。
        days_off: ['2023-06-22', '2023-06-23', '2023-06-24'],
        working_days: ['2023-06-25'],
      },
      {
        name: 'Mid-Autumn Festival and National Day',
        name_zh: '中秋节、国庆节',
        // 9月29日至10月6日放假调休，共8天。10月7日（星期六）、10月8日（星期日）上班。
        days_off: [
          '2023-09-29', '2023-09-30', '2023-10-01', '2023-10-02',
          '2023-10-03', '2023-10-04', '2023-10-05', '2023-10-06',
        ],
        working_days: ['2023-10-07', '2023-10-08'],
      },
    ],
  },
  {
    // 国办发明电〔2023〕7号, 2023-10-25 (document number from memory: check against the notice).
    year: 2024,
    source: '国务院办公厅关于2024年部分节假日安排的通知',
    holidays: [
      {
        name: "New Year's Day",
        name_zh: '元旦',
        // 1月1日放假，与周末连休。(Dec 30-31, 2023 are an ordinary weekend; not listed.)
        days_off: ['2024-01-01'],
        working_days: [],
      },
      {
        name: 'Spring Festival',
        name_zh: '春节',
        // 2月10日至17日放假调休，共8天。2月4日（星期日）、2月18日（星期日）上班。
        days_off: [
          '2024-02-10', '2024-02-11', '2024-02-12', '2024-02-13',
          '2024-02-14', '2024-02-15', '2024-02-16', '2024-02-17',
        ],
        working_days: ['2024-02-04', '2024-02-18'],
      },
      {
        name: 'Qingming Festival',
        name_zh: '清明节',
        // 4月4日至6日放假调休，共3天。4月7日（星期日）上班。
        days_off: ['2024-04-04', '2024-04-05', '2024-04-06'],
        working_days: ['2024-04-07'],
      },
      {
        name: 'Labour Day',
        name_zh: '劳动节',
        // 5月1日至5日放假调休，共5天。4月28日（星期日）、5月11日（星期六）上班。
        days_off: ['2024-05-01', '2024-05-02', '2024-05-03', '2024-05-04', '2024-05-05'],
        working_days: ['2024-04-28', '2024-05-11'],
      },
      {
        name: 'Dragon Boat Festival',
        name_zh: '端午节',
        // 6月10日放假，与周末连休。
        days_off: ['2024-06-10'],
        working_days: [],
      },
      {
        name: 'Mid-Autumn Festival',
        name_zh: '中秋节',
        // 9月15日至17日放假调休，共3天。9月14日（星期六）上班。
        days_off: ['2024-09-15', '2024-09-16', '2024-09-17'],
        working_days: ['2024-09-14'],
      },
      {
        name: 'National Day',
        name_zh: '国庆节',
        // 10月1日至7日放假调休，共7天。9月29日（星期日）、10月12日（星期六）上班。
        days_off: [
          '2024-10-01', '2024-10-02', '2024-10-03', '2024-10-04',
          '2024-10-05', '2024-10-06', '2024-10-07',
        ],
        working_days: ['2024-09-29', '2024-10-12'],
      },
    ],
  },
  {
    // 国办发明电〔2024〕12号, 2024-11-12 (document number from memory: check against the notice). The first
    // year with 13 statutory days (除夕 and 2 May added).
    year: 2025,
    source: '国务院办公厅关于2025年部分节假日安排的通知',
    holidays: [
      {
        name: "New Year's Day",
        name_zh: '元旦',
        // 1月1日（周三）放假1天，不调休。
        days_off: ['2025-01-01'],
        working_days: [],
      },
      {
        name: 'Spring Festival',
        name_zh: '春节',
        // 1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。1月26日（周日）、2月8日（周六）上班。
        days_off: [
          '2025-01-28', '2025-01-29', '2025-01-30', '2025-01-31',
          '2025-02-01', '2025-02-02', '2025-02-03', '2025-02-04',
        ],
        working_days: ['2025-01-26', '2025-02-08'],
      },
      {
        name: 'Qingming Festival',
        name_zh: '清明节',
        // 4月4日（周五）至6日（周日）放假，共3天。
        days_off: ['2025-04-04', '2025-04-05', '2025-04-06'],
        working_days: [],
      },
      {
        name: 'Labour Day',
        name_zh: '劳动节',
        // 5月1日（周四）至5日（周一）放假调休，共5天。4月27日（周日）上班。
        days_off: ['2025-05-01', '2025-05-02', '2025-05-03', '2025-05-04', '2025-05-05'],
        working_days: ['2025-04-27'],
      },
      {
        name: 'Dragon Boat Festival',
        name_zh: '端午节',
        // 5月31日（周六）至6月2日（周一）放假，共3天。
        days_off: ['2025-05-31', '2025-06-01', '2025-06-02'],
        working_days: [],
      },
      {
        name: 'National Day and Mid-Autumn Festival',
        name_zh: '国庆节、中秋节',
        // 10月1日（周三）至8日（周三）放假调休，共8天。9月28日（周日）、10月11日（周六）上班。
        days_off: [
          '2025-10-01', '2025-10-02', '2025-10-03', '2025-10-04',
          '2025-10-05', '2025-10-06', '2025-10-07', '2025-10-08',
        ],
        working_days: ['2025-09-28', '2025-10-11'],
      },
    ],
  },
  {
    // Published 2025-11; document number not recorded here (国办发明电〔2025〕7号 from memory, unchecked). The
    // dates are from memory, agree with one independent third-party working-day list, and pass the 13-statutory-
    // days check; still, check them against the notice before relying on 2026 figures.
    year: 2026,
    source: '国务院办公厅关于2026年部分节假日安排的通知',
    holidays: [
      {
        name: "New Year's Day",
        name_zh: '元旦',
        // 1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。
        days_off: ['2026-01-01', '2026-01-02', '2026-01-03'],
        working_days: ['2026-01-04'],
      },
      {
        name: 'Spring Festival',
        name_zh: '春节',
        // 2月15日（农历腊月二十八、周日）至23日（周一）放假调休，共9天。2月14日（周六）、2月28日（周六）上班。
        days_off: [
          '2026-02-15', '2026-02-16', '2026-02-17', '2026-02-18', '2026-02-19',
          '2026-02-20', '2026-02-21', '2026-02-22', '2026-02-23',
        ],
        working_days: ['2026-02-14', '2026-02-28'],
      },
      {
        name: 'Qingming Festival',
        name_zh: '清明节',
        // 4月4日（周六）至6日（周一）放假，共3天。
        days_off: ['2026-04-04', '2026-04-05', '2026-04-06'],
        working_days: [],
      },
      {
        name: 'Labour Day',
        name_zh: '劳动节',
        // 5月1日（周五）至5日（周二）放假调休，共5天。5月9日（周六）上班。
        days_off: ['2026-05-01', '2026-05-02', '2026-05-03', '2026-05-04', '2026-05-05'],
        working_days: ['2026-05-09'],
      },
      {
        name: 'Dragon Boat Festival',
        name_zh: '端午节',
        // 6月19日（周五）至21日（周日）放假，共3天。
        days_off: ['2026-06-19', '2026-06-20', '2026-06-21'],
        working_days: [],
      },
      {
        name: 'Mid-Autumn Festival',
        name_zh: '中秋节',
        // 9月25日（周五）至27日（周日）放假，共3天。
        days_off: ['2026-09-25', '2026-09-26', '2026-09-27'],
        working_days: [],
      },
      {
        name: 'National Day',
        name_zh: '国庆节',
        // 10月1日（周四）至7日（周三）放假调休，共7天。9月20日（周日）、10月10日（周六）上班。
        days_off: [
          '2026-10-01', '2026-10-02', '2026-10-03', '2026-10-04',
          '2026-10-05', '2026-10-06', '2026-10-07',
        ],
        working_days: ['2026-09-20', '2026-10-10'],
      },
    ],
  },
];
