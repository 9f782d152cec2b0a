"""Server error messages in the reader's language: English patterns -> Russian templates.

Why patterns and not catalogue keys: the CRM raises its refusals in English with the
offending values inside (`no customer 42`, `kind must be one of person, company`), so an
exact-key catalogue can never list them. Each pattern here matches one raised message
(the whole of it) and rebuilds it in Russian, keeping the values; field names and nouns
it recognises are translated too. The English text stays the source of truth: logs, the
CLI and the OpenAPI document keep it, and only the reader's copy is translated.

Which language (chosen by `web.errors`, which calls `translate`):

- Pages follow the user's locale (`Manager.locale`, else the `default_locale` setting,
  Russian by default), like the rest of the page.
- The API follows `Accept-Language` and defaults to *English*: integrations match on the
  stable `error` slug and log the English `message`, and a script never sends the header
  by accident. A browser does send it, so the panel's own calls (the call pop) read in
  the browser's language; `Accept-Language: ru` gives Russian.

An unknown message never reaches a Russian reader in English: it falls back to a Russian
sentence for its slug (`not-found` -> «Не найдено»). A message already in Russian (one
the pages translated through the catalogue) passes unchanged, so translating twice is
harmless. `tests/test_error_text.py` reads the source for every raised message and fails
when one has no pattern here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

LOCALES = ("ru", "en")
_CYRILLIC = re.compile("[А-Яа-яЁё]")
_ANY = r"(?P<f>.+)"  # a field name before ": ..." (translated through FIELDS when known)
_SUBJECT = r"(?P<f>.*[^:])"  # a field name before " must be ...": never the "name:" of a ": must be" message

#: (English message as a regex, Russian template). `f` groups are field names, `what` groups nouns.
_PATTERNS: tuple[tuple[str, str], ...] = (
    # --- field checks (crm.validation, web.api.json_io, web.pages.forms) ---
    (_ANY + r": required", "{f}: обязательное поле"),
    (_ANY + r": at most (?P<n>\d+) characters", "{f}: не более {n} символов"),
    (_ANY + r": at least (?P<n>\d+) characters", "{f}: не менее {n} символов"),
    (_ANY + r": (?P<a>\d+)-(?P<b>\d+) characters", "{f}: от {a} до {b} символов"),
    (_ANY + r": at most (?P<n>\d+) entries", "{f}: не более {n} элементов"),
    (_ANY + r": at most (?P<n>\d+)", "{f}: не более {n}"),
    (_ANY + r": (?P<a>-?\d+)(?:-|\.\.)(?P<b>-?\d+)", "{f}: от {a} до {b}"),
    (_ANY + r": (?P<a>\d+)-(?P<b>\d+) seconds", "{f}: от {a} до {b} секунд"),
    (_ANY + r": (?P<a>-?\d+) or (?P<b>-?\d+)", "{f}: {a} или {b}"),
    (_ANY + r": a whole number", "{f}: целое число"),
    (_ANY + r": out of range", "{f}: вне допустимого диапазона"),
    (_ANY + r": an integer (?:from|between) (?P<a>-?\d+) (?:to|and) (?P<b>-?\d+)", "{f}: целое число от {a} до {b}"),
    (_ANY + r": a date between (?P<a>\d+) and (?P<b>\d+)", "{f}: дата с {a} по {b} год"),
    (_ANY + r": a date like (?P<x>\S+)", "{f}: дата вида {x}"),
    (_ANY + r": a date and time like (?P<x>.+)", "{f}: дата и время вида {x}"),
    (_ANY + r": not an ISO 8601 date-time: (?P<v>.*)", "{f}: не дата и время ISO 8601: {v}"),
    (_ANY + r": must be an ISO 8601 date-time string or null", "{f}: строка с датой и временем ISO 8601 или null"),
    (_ANY + r": needs a time zone offset, e\.g\. (?P<x>.+)", "{f}: нужно смещение часового пояса, например {x}"),
    (_SUBJECT + r" needs a time zone", "{f}: нужен часовой пояс"),
    (_ANY + r": must be one of (?P<v>.+)", "{f}: одно из значений: {v}"),
    (_SUBJECT + r" must be one of (?P<v>.+)", "{f}: одно из значений: {v}"),
    (_SUBJECT + r" must be empty or one of (?P<v>.+)", "{f}: пусто или одно из значений: {v}"),
    (_SUBJECT + r" must be (?P<a>\w+) or (?P<b>\w+)", "{f}: {a} или {b}"),
    (_SUBJECT + r" must be (?P<a>\w+), (?P<b>\w+) or (?P<c>\w+)", "{f}: {a}, {b} или {c}"),
    (_ANY + r": must be a string", "{f}: должно быть строкой"),
    (_ANY + r": must be a string or null", "{f}: должно быть строкой или null"),
    (_ANY + r": (?:must be )?true or false", "{f}: true или false"),
    (_ANY + r": must be a positive integer id or null", "{f}: положительный целый id или null"),
    (_ANY + r": must be a list of strings", "{f}: должно быть списком строк"),
    (_ANY + r": must be a list of objects", "{f}: должно быть списком объектов"),
    (_ANY + r": (?:must be )?an object", "{f}: должно быть объектом"),
    (_ANY + r": must be an integer", "{f}: должно быть целым числом"),
    (_ANY + r": must be a decimal string or a number", "{f}: десятичная строка или число"),
    (_ANY + r": must be a finite number", "{f}: должно быть конечным числом"),
    (_ANY + r": not a number: (?P<v>.*)", "{f}: не число: {v}"),
    (_SUBJECT + r" must be a number", "{f}: должно быть числом"),
    (_SUBJECT + r" must be between 0 and 10\^12", "{f}: от 0 до 10^12"),
    (_ANY + r": unknown field\(s\): (?P<u>.+?); allowed: (?P<a>.*)", "{f}: неизвестные поля: {u}; допустимы: {a}"),
    (r"unknown field\(s\): (?P<u>.+?); allowed: (?P<a>.*)", "неизвестные поля: {u}; допустимы: {a}"),
    (_ANY + r": unknown field\(s\): (?P<u>.+)", "{f}: неизвестные поля: {u}"),
    (_ANY + r": unknown manager", "{f}: неизвестный менеджер"),
    (_ANY + r": (?P<a>[01])-64 latin letters, digits, '_' or '-'",
     "{f}: от {a} до 64 латинских букв, цифр, «_» или «-»"),
    (_ANY + r": no (?P<what>customer|order|routing group) (?P<id>\d+)", "{f}: нет {what} {id}"),
    # --- not found ---
    (r"no (?P<what>customer|order|manager|task|schedule|routing group|routing rule|API token|number) (?P<id>.+)",
     "нет {what} {id}"),
    (r"no alert (?P<id>\d+)", "нет тревоги {id}"),
    (r"no webhook endpoint (?P<id>\d+)", "нет адреса вебхука {id}"),
    (r"no recording (?P<id>\d+)", "нет записи звонка {id}"),
    (r"the file of recording (?P<id>\d+) is missing", "файла записи звонка {id} нет в хранилище"),
    (r"recording (?P<id>\d+) was deleted by the retention", "запись звонка {id} удалена по сроку хранения"),
    (r"only supervisors may download recordings", "скачивать записи могут только руководители"),
    (r"webhook URL: an http:// or https:// address", "адрес вебхука: http:// или https://"),
    (r"choose at least one event", "выберите хотя бы одно событие"),
    (r"from / to: dates like (?P<d>.+)", "from / to: даты вида {d}"),
    (r"from / to: a range of 1 to (?P<n>\d+) days", "from / to: период от 1 до {n} дней"),
    (r"alert (?P<n>\d+) is already acknowledged", "тревога {n} уже принята к сведению"),
    (r"auto-callback attempts per task: 1 to 20", "попыток автоперезвона на задачу: от 1 до 20"),
    (r"minutes between auto-callback attempts: 1 to 1440", "минут между попытками автоперезвона: от 1 до 1440"),
    (r"the callback deadline is 1 to 10080 working minutes", "срок перезвона: от 1 до 10080 рабочих минут"),
    (r"a short abandoned call rang 0 to 60 seconds", "короткий брошенный звонок: от 0 до 60 секунд"),
    (r"to place a self-check call, give the number to call and the number it comes from",
     "чтобы позвонить для проверки, укажите номер, на который звонить, и номер, с которого придёт звонок"),
    (r"a self-check call is already under way: wait for its result",
     "проверочный звонок уже идёт: дождитесь его результата"),
    (r"choose at least one weekday for the self-check call", "выберите хотя бы один день для проверочного звонка"),
    (r"the number to call must be digits only, as the provider expects them",
     "номер, на который звонить, — только цифры, как его ждёт оператор связи"),
    (r"the test call stays on the line 1 to 120 seconds", "проверочный звонок остаётся на линии от 1 до 120 секунд"),
    (r"to schedule self-check calls, give the number to call and the number they come from",
     "чтобы звонить по расписанию, укажите номер, на который звонить, и номер, с которого придёт звонок"),
    (r"the time of the test call: like 17:45", "время проверочного звонка: например, 17:45"),
    (r"this suggestion has already been decided", "по этому предложению уже принято решение"),
    (r"no transcript (?P<n>\d+)", "нет текста разговора {n}"),
    (r"no task suggestion (?P<n>\d+)", "нет предложенной задачи {n}"),
    (r"q: say what to look for", "q: укажите, что искать"),
    (r"since: an ISO 8601 moment with its offset, e\.g\. (?P<d>.+)",
     "since: момент ISO 8601 со смещением, например {d}"),
    (r"keywords: one word each, 3 to 40 letters: (?P<w>.+)", "ключевые слова: по одному слову от 3 до 40 букв: {w}"),
    (r"keywords: at most (?P<n>\d+)", "ключевых слов не больше {n}"),
    (r"this alert is about another manager's work", "эта тревога о работе другого менеджера"),
    (r"no such call", "звонок не найден"),
    (r"no such (?P<f>.+)", "{f}: не найдено"),
    # --- people, phones, access ---
    (r"password must be at least (?P<n>\d+) characters", "пароль должен быть не короче {n} символов"),
    (r"password is too long", "пароль слишком длинный"),
    (r"login: 2-64 characters, latin letters, digits, '\.', '_' or '-'",
     "логин: 2–64 символа, латинские буквы, цифры, «.», «_» или «-»"),
    (r"login (?P<v>.+) is taken", "логин {v} уже занят"),
    (r"extension (?P<e>.+): 2-6 digits", "внутренний номер {e}: от 2 до 6 цифр"),
    (r"extension (?P<e>.+) already belongs to another manager",
     "внутренний номер {e} уже принадлежит другому менеджеру"),
    (r"you cannot deactivate or demote your own account",
     "нельзя отключить свою учётную запись или понизить свою роль"),
    (r"expires in \(days\): 1-(?P<n>\d+), or empty for never",
     "срок действия (дней): от 1 до {n} или пусто — бессрочно"),
    (r"phone number is too long", "номер телефона слишком длинный"),
    (r"not a phone number \(only digits, spaces and \+ - \( \) \. allowed\): (?P<v>.*)",
     "это не номер телефона (допустимы только цифры, пробелы и + - ( ) .): {v}"),
    (r"not a (?:valid )?phone number: (?P<v>.*)", "неверный номер телефона: {v}"),
    (r"phone (?P<v>.+) already belongs to another customer", "телефон {v} уже принадлежит другому клиенту"),
    (r"this (?P<what>customer|task|token) belongs to another manager", "{what} принадлежит другому менеджеру"),
    (r"this (?P<what>order|phone) belongs to another manager's customer",
     "{what} принадлежит клиенту другого менеджера"),
    (r"give (?P<a>\w+) or (?P<b>\w+), not both", "укажите {a} или {b}, но не оба сразу"),
    (r"give customer_id or customer_phone", "укажите customer_id или customer_phone"),
    (r"customer: a customer id", "customer: id клиента"),
    (r"status: a status code", "status: код статуса"),
    (r"manager: a manager id or 'me'", "manager: id менеджера или 'me'"),
    (r"assignee: a manager id, 'me' or 'none'", "assignee: id менеджера, 'me' или 'none'"),
    # --- orders and workflow ---
    (r"items: qty must be a whole number", "товары: количество должно быть целым числом"),
    (r"items: qty must be a whole number from 1 to (?P<n>\d+)", "товары: количество — целое число от 1 до {n}"),
    (r"items: their sum must be below 10\^12", "товары: их сумма должна быть меньше 10^12"),
    (r"items: each item must be an object", "товары: каждый товар должен быть объектом"),
    (r"currency: a three-letter ISO 4217 code", "валюта: трёхбуквенный код ISO 4217"),
    (r"total (?P<a>\S+) does not match the items' sum (?P<b>\S+)", "сумма {a} не совпадает с суммой товаров {b}"),
    (r"order number (?P<v>.+) already exists", "заказ с номером {v} уже есть"),
    (r"unknown order status (?P<v>.+)", "неизвестный статус заказа {v}"),
    (r"status (?P<v>.+) is final: no open order can be in it",
     "статус {v} финальный: открытый заказ не может в нём быть"),
    (r"transitions name unknown statuses: (?P<v>.+)", "в переходах неизвестные статусы: {v}"),
    (r"the workflow needs exactly one initial status", "в процессе должен быть ровно один начальный статус"),
    (r"an order in status '(?P<a>.+)' cannot move to '(?P<b>.+)'; allowed: none \(final status\)",
     "заказ в статусе «{a}» нельзя перевести в «{b}»: статус финальный"),
    (r"an order in status '(?P<a>.+)' cannot move to '(?P<b>.+)'; allowed: (?P<c>.+)",
     "заказ в статусе «{a}» нельзя перевести в «{b}»; можно: {c}"),
    # --- tasks and call results ---
    (r"the task links to a customer, order, call or manager that does not exist",
     "задача ссылается на несуществующего клиента, заказ, звонок или менеджера"),
    (r"a task closes as done or cancelled", "задачу закрывают как выполненную или отменённую"),
    (r"a callback is closed with a note of what the conversation came to",
     "перезвон закрывают с заметкой о том, чем закончился разговор"),
    (r"a callback is closed with the date of the next contact", "перезвон закрывают с датой следующего контакта"),
    (r"task (?P<n>\d+) is already closed", "задача {n} уже закрыта"),
    (r"code: a lower-case latin letter, then up to 31 letters, digits or _",
     "код: строчная латинская буква, затем до 31 буквы, цифры или _"),
    (r"give a call result, a note or a task", "укажите результат звонка, заметку или задачу"),
    (r"this call did not involve you", "вы не участвовали в этом звонке"),
    (r"unknown call result", "неизвестный результат звонка"),
    (r"unknown call result (?P<v>.+)", "неизвестный результат звонка {v}"),
    (r"this call has no customer to write the note on", "у звонка нет клиента, к которому записать заметку"),
    # --- routing ---
    (r"after-hours target: 'voicemail:BOX', 'dial:\+NUMBER', 'playback:SOUND' or 'hangup'",
     "куда в нерабочее время: 'voicemail:ЯЩИК', 'dial:+НОМЕР', 'playback:ЗАПИСЬ' или 'hangup'"),
    (r"time zone: unknown (?P<v>.+)", "часовой пояс: неизвестен {v}"),
    (r"hours: weekdays 1-7, each with an opening and a closing time",
     "часы: дни недели 1–7, у каждого время открытия и закрытия"),
    (r"hours of day (?P<d>\d+): times as HH:MM \(closing may be 24:00\)",
     "часы дня {d}: время в виде ЧЧ:ММ (закрытие может быть 24:00)"),
    (r"hours of day (?P<d>\d+): opening and closing times are the same",
     "часы дня {d}: время открытия и закрытия совпадает"),
    (r"number \(global\) already has a schedule", "общее расписание уже есть"),
    (r"number (?P<v>.+) already has a schedule", "у номера {v} уже есть расписание"),
    (r"number: the global schedule has none, and a number's schedule needs one",
     "номер: у общего расписания его нет, а расписанию номера он нужен"),
    (r"number: digits expected", "номер: нужны цифры"),
    (r"the global schedule cannot be deleted", "общее расписание нельзя удалить"),
    (r"a group named (?P<v>.+) exists", "группа с именем {v} уже есть"),
    (r"the group is used by routing rules: delete or change them first",
     "группа используется в правилах маршрутизации: сначала удалите или измените их"),
    (r"group: choose a group", "группа: выберите группу"),
    (r"direction: up or down", "направление: выше или ниже"),
    (r"max concurrent calls: nothing to save", "одновременных звонков: нечего сохранять"),
    # --- customer notices ---
    (r"notice template \((?P<f>.+?)\): too long \(at most (?P<n>\d+) characters\)",
     "шаблон уведомления ({f}): слишком длинный (не более {n} символов)"),
    (r"notice template \((?P<f>.+?)\): a brace that opens or closes no placeholder "
     r"\(double it for a brace in the text\)",
     "шаблон уведомления ({f}): фигурная скобка не открывает и не закрывает подстановку "
     "(чтобы вставить скобку в текст, удвойте её)"),
    (r"notice template \((?P<f>.+?)\): unknown placeholder (?P<p>.+); allowed: (?P<a>.+)",
     "шаблон уведомления ({f}): неизвестная подстановка {p}; допустимы: {a}"),
    (r"quiet hours: the start and the end must differ", "тихие часы: начало и конец должны различаться"),
    (r"shop name: required when a template uses \{shop\}",
     "название магазина: обязательно, если в шаблоне есть {{shop}}"),
    (_ANY + r": a time like (?P<x>.+)", "{f}: время вида {x}"),
    # --- click-to-call and the PBX ---
    (r"give the phone to call, or a task or order with a customer", "укажите номер или задачу либо заказ с клиентом"),
    (r"(?P<v>.+) has no phone number", "у клиента {v} нет номера телефона"),
    (r"you have no phone extension: ask an admin to add one to your account",
     "у вас нет внутреннего номера: попросите администратора добавить его в вашу учётную запись"),
    (r"no Asterisk is configured: calls cannot be placed", "Asterisk не настроен: звонить нельзя"),
    (r"your phone \((?P<e>.+)\) is not registered with the PBX: switch it on or check its network",
     "ваш телефон ({e}) не зарегистрирован на АТС: включите его или проверьте сеть"),
    (r"the AMI connection is not held by this instance", "соединение с АТС держит другой экземпляр сервиса"),
    (r"the PBX is not connected \(AMI down\): try again in a moment",
     "АТС не подключена (AMI недоступен): повторите чуть позже"),
    (r"the PBX refused the call: (?P<v>.*)", "АТС отклонила звонок: {v}"),
    (r"the instance holding the PBX connection did not answer: try again in a moment",
     "экземпляр сервиса, держащий соединение с АТС, не ответил: повторите чуть позже"),
    # --- HTTP: sessions, CSRF, bodies ---
    (r"missing or wrong CSRF token; reload the page and try again",
     "нет CSRF-токена или он неверен: обновите страницу и попробуйте снова"),
    (r"log in first", "сначала войдите в систему"),
    (r"invalid, expired or revoked API token", "API-токен неверен, просрочен или отозван"),
    (r"role not allowed", "вашей роли это недоступно"),
    (r"the live connection is open to the panel's own pages only",
     "живое соединение открыто только для страниц панели"),
    (r"the live connection needs a login session", "для живого соединения нужно войти в систему"),
    (r"the request body did not arrive in time", "тело запроса не пришло вовремя"),
    (r"request body over (?P<n>\d+) bytes", "тело запроса больше {n} байт"),
    (r"Maximum request body size (?P<n>\d+) exceeded, actual body size (?P<a>\d+)",
     "тело запроса больше допустимых {n} байт (пришло {a})"),
    (r"send the body as JSON with Content-Type: application/json",
     "отправьте тело запроса как JSON с заголовком Content-Type: application/json"),
    (r"the body must be a JSON object", "тело запроса должно быть JSON-объектом"),
    (r"the body is not valid JSON: (?P<v>.*)", "тело запроса — некорректный JSON: {v}"),
    (r"internal error", "внутренняя ошибка сервера"),
)
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.DOTALL), t) for p, t in _PATTERNS)

#: Field names the messages start with (`name: required`), as the Russian forms label them.
FIELDS: Mapping[str, str] = {
    "name": "имя", "display name": "имя", "email": "эл. почта", "region": "регион", "note": "заметка",
    "title": "название", "label": "подпись", "comment": "комментарий", "query": "поиск", "tag": "тег",
    "tags": "теги", "phones": "телефоны", "items": "товары", "item name": "название товара",
    "item sku": "артикул товара", "items: price": "цена товара", "total": "сумма", "order number": "номер заказа",
    "number": "номер", "queue": "очередь", "default queue": "очередь по умолчанию", "ring timeout": "время дозвона",
    "default ring timeout": "время дозвона по умолчанию", "position": "порядок", "seniority": "стаж",
    "max concurrent calls": "одновременных звонков", "members": "участники", "group": "группа", "role": "роль",
    "kind": "вид", "channel": "канал", "customer kind": "тип клиента", "sticky source": "источник закрепления",
    "presence": "присутствие", "status": "статус", "locale": "язык", "holiday": "выходной", "step": "шаг",
    "Russian title": "название по-русски", "English title": "название по-английски", "result note": "итог",
    "responsible manager": "ответственный менеджер", "assignee": "исполнитель", "due_at": "срок", "due": "срок",
    "expires in (days)": "срок действия (дней)", "password": "пароль", "login": "логин",
    "shop name": "название магазина", "quiet hours start": "начало тихих часов", "quiet hours end": "конец тихих часов",
    "missed call": "пропущенный звонок", "notice template (missed call)": "шаблон уведомления (пропущенный звонок)",
}

#: Nouns after "no ..." (genitive) and after "this ..." (nominative with its demonstrative).
_NOUNS: Mapping[str, str] = {
    "customer": "клиента", "order": "заказа", "manager": "менеджера", "task": "задачи", "schedule": "расписания",
    "routing group": "группы маршрутизации", "routing rule": "правила маршрутизации", "API token": "API-токена",
    "number": "номера",
}
_THIS: Mapping[str, str] = {
    "customer": "этот клиент", "task": "эта задача", "token": "этот токен", "order": "этот заказ",
    "phone": "этот телефон",
}

#: The Russian sentence for a slug when the message itself is not known (never raw English).
FALLBACKS: Mapping[str, str] = {
    "crm-error": "Запрос отклонён", "invalid-input": "Проверьте введённые данные",
    "invalid-phone": "Неверный номер телефона", "not-found": "Не найдено",
    "conflict": "Конфликт с текущими данными: обновите страницу и попробуйте снова",
    "phone-taken": "Этот телефон уже принадлежит другому клиенту",
    "duplicate-order-number": "Заказ с таким номером уже есть", "duplicate-login": "Этот логин уже занят",
    "forbidden-transition": "Такая смена статуса запрещена", "access-denied": "Нет доступа",
    "phone-unreachable": "Ваш телефон недоступен", "pbx-unavailable": "АТС сейчас недоступна: попробуйте позже",
    "bad-request": "Некорректный запрос", "unauthorized": "Сначала войдите в систему",
    "forbidden": "Доступ запрещён", "method-not-allowed": "Такой метод запроса не поддерживается",
    "request-timeout": "Запрос не пришёл вовремя", "payload-too-large": "Слишком большой запрос",
    "unsupported-media-type": "Неподдерживаемый тип данных",
    "too-many-requests": "Слишком много запросов: подождите немного", "internal-error": "Внутренняя ошибка сервера",
    "invalid-json": "Тело запроса — некорректный JSON", "unknown-field": "Неизвестное поле",
    "http-error": "Ошибка запроса",
}
DEFAULT_FALLBACK = "Запрос отклонён"


def find(message: str) -> tuple[re.Match[str], str] | None:
    """The match of the first pattern that covers the whole `message`, with its template (the test uses it)."""
    for pattern, template in PATTERNS:
        match = pattern.fullmatch(message)
        if match is not None:
            return match, template
    return None


def fallback(slug: str) -> str:
    """The Russian sentence for `slug`; a slug without one still gets a Russian refusal."""
    return FALLBACKS.get(slug, DEFAULT_FALLBACK)


def _fill(template: str, match: re.Match[str]) -> str:
    values = match.groupdict()
    if "f" in values:
        values["f"] = FIELDS.get(values["f"], values["f"])
    if "what" in values:
        nouns = _THIS if template.startswith("{what}") else _NOUNS
        values["what"] = nouns.get(values["what"], values["what"])
    return template.format(**values)


def translate(message: str, slug: str, locale: str, catalogue: Mapping[str, str] | None = None) -> str:
    """`message` for a reader of `locale`: for ru the catalogue's exact entry, a pattern, or the fallback.

    English (any locale but ru) is returned as raised. A Russian message passes unchanged, so text
    the pages already translated survives a second pass.
    """
    if locale != "ru":
        return message
    exact = catalogue.get(message) if catalogue is not None else None
    if exact:
        return exact
    found = find(message)
    if found is not None:
        return _fill(found[1], found[0])
    if _CYRILLIC.search(message):
        return message
    return fallback(slug)


def accept_language_locale(header: str | None, default: str = "en") -> str:
    """The best of LOCALES an `Accept-Language` header asks for (highest q, earliest on a tie), else `default`.

    `ru-RU,ru;q=0.9,en;q=0.8` -> ru; `*` or an unsupported language -> `default`. Only the first 20
    entries are read: the header is the client's to make long.
    """
    best, best_q = default, 0.0
    for entry in (header or "").split(",")[:20]:
        tag, _, params = entry.strip().partition(";")
        language = tag.strip().lower().split("-", 1)[0]
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if language in LOCALES and q > best_q:
            best, best_q = language, q
    return best
