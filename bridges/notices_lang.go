package bridges

// The notices in the 13 languages besides English, written for the users
// (not machine-translated): each keeps its English entry's format verbs
// in order, its Markdown marks and its /commands (TestCatalogComplete).
// The informal "you" is used where the language's chat apps use it.

// catalog holds every language's notices, by the names of Languages.
var catalog = map[string]map[notice]string{
	"en": english, "fr": french, "es": spanish, "ru": russian, "zh-Hans": chineseSimplified,
	"zh-Hant": chineseTraditional, "ar": arabic, "de": german, "jp": japanese, "pt": portuguese,
	"hi": hindi, "ko": korean, "it": italian, "uk": ukrainian,
}

var french = map[notice]string{
	noticeReset:          "Nouvelle conversation commencée.",
	noticeStopped:        "Arrêté.",
	noticeNothingRunning: "Aucune réponse n'est en cours pour le moment.",
	noticeBusy:           "Je réponds encore à vos messages précédents. Merci de patienter un instant.",
	noticePanic:          "Désolé, un problème est survenu de mon côté pendant la réponse. Veuillez réessayer.",
	noticeEmptyAsk:       "Posez une question après la commande, par exemple : /ask Quels sont vos horaires d'ouverture ?",
	noticeNoAnswer:       "(L'assistant a renvoyé une réponse vide.)",
	noticeUnknownCommand: "Commande inconnue /%s. Essayez /help.",
	noticeRestartApology: "Désolé — j'ai été redémarré et je n'ai pas pu répondre à votre message de %s. Veuillez reposer votre question.",
	noticeExpired:        "_(Votre conversation précédente avait expiré, j'en ai donc commencé une nouvelle.)_\n\n",
	markStopped:          " … _(arrêté)_",
	markInterrupt:        "\n\n_(interrompu : le pont redémarre ; veuillez reposer votre question)_",
	markResume:           "\n\n_(interrompu : le pont redémarre ; la réponse complète suivra à son retour)_",

	refuseNotAdmin:   "Seuls les administrateurs du groupe peuvent commencer une nouvelle conversation ici.",
	refuseTooLong:    "Votre message est trop long (%d caractères). Veuillez limiter vos questions à moins de %d caractères.",
	refuseUserRate:   "Vous posez des questions plus vite que je ne peux répondre. Patientez un instant, puis réessayez.",
	refuseChatRate:   "Ce chat pose des questions plus vite que je ne peux répondre. Patientez un instant, puis réessayez.",
	refuseDailyQuota: "Vous avez atteint la limite de questions pour aujourd'hui. Revenez demain.",

	failUnauthorized:    "⚠️ L'assistant n'est pas configuré correctement (sa clé API a été refusée). L'opérateur a été prévenu.",
	failNotFound:        "⚠️ L'assistant est introuvable. L'opérateur a été prévenu.",
	failRateLimited:     "⚠️ L'assistant est très sollicité en ce moment. Veuillez réessayer dans une minute.",
	failContentFiltered: "⚠️ Désolé, je ne peux pas répondre à cela.",
	failNoAnswer:        "Désolé, je n'ai pas trouvé de réponse à cela dans la base de connaissances.",
	failBadResponse:     "⚠️ L'assistant a envoyé une réponse que je n'ai pas pu lire. Veuillez réessayer.",
	failUnavailable:     "⚠️ L'assistant est indisponible pour le moment. Veuillez réessayer plus tard.",

	reactionFailed: "⚠️",

	helpIntro: "Je réponds aux questions à partir de notre base de connaissances.\n\n" +
		"• En discussion privée, écrivez simplement votre question.\n" +
		"• Dans un groupe ou un canal, mentionnez-moi ou répondez à l'un de mes messages.",
	helpCommands:    "Commandes :",
	helpOr:          " ou ",
	helpArgQuestion: "question",

	cmdAskHelp:    "Poser une question au bot",
	cmdAskArgHelp: "Votre question",
	cmdResetHelp:  "Commencer une nouvelle conversation ici",
	cmdStopHelp:   "Arrêter la réponse en cours de rédaction ici",
	cmdHelpHelp:   "Ce que fait ce bot et comment lui parler",

	statusSearching: "Recherche dans la base de connaissances…",
	statusWriting:   "Rédaction de la réponse…",

	noticeTextOnly:     "Je ne peux lire que du texte. Veuillez écrire votre question dans un message.",
	markRagUnavailable: "\n\n_(La base de connaissances n'a pas pu être consultée pour cette réponse.)_",
	labelSources:       "Sources :",
}

var spanish = map[notice]string{
	noticeReset:          "Se ha iniciado una nueva conversación.",
	noticeStopped:        "Detenido.",
	noticeNothingRunning: "Ahora mismo no se está respondiendo nada.",
	noticeBusy:           "Todavía estoy respondiendo a tus mensajes anteriores. Espera un momento, por favor.",
	noticePanic:          "Lo siento, algo ha fallado por mi parte al responder. Inténtalo de nuevo.",
	noticeEmptyAsk:       "Escribe una pregunta después del comando, por ejemplo: /ask ¿Cuál es su horario de atención?",
	noticeNoAnswer:       "(El asistente devolvió una respuesta vacía.)",
	noticeUnknownCommand: "Comando desconocido /%s. Prueba /help.",
	noticeRestartApology: "Lo siento — me reiniciaron y no pude responder a tu mensaje de las %s. Vuelve a preguntar, por favor.",
	noticeExpired:        "_(Tu conversación anterior había caducado, así que he empezado una nueva.)_\n\n",
	markStopped:          " … _(detenido)_",
	markInterrupt:        "\n\n_(interrumpido: el puente se está reiniciando; vuelve a preguntar, por favor)_",
	markResume:           "\n\n_(interrumpido: el puente se está reiniciando; la respuesta completa llegará cuando vuelva)_",

	refuseNotAdmin:   "Solo los administradores del grupo pueden iniciar aquí una nueva conversación.",
	refuseTooLong:    "Tu mensaje es demasiado largo (%d caracteres). Haz preguntas de menos de %d caracteres, por favor.",
	refuseUserRate:   "Preguntas más rápido de lo que puedo responder. Espera un momento y vuelve a intentarlo.",
	refuseChatRate:   "En este chat se pregunta más rápido de lo que puedo responder. Esperen un momento y vuelvan a intentarlo.",
	refuseDailyQuota: "Has alcanzado el límite de preguntas de hoy. Vuelve mañana, por favor.",

	failUnauthorized:    "⚠️ El asistente no está bien configurado (se rechazó su clave de API). Se ha avisado al operador.",
	failNotFound:        "⚠️ No se encontró el asistente. Se ha avisado al operador.",
	failRateLimited:     "⚠️ El asistente está ocupado en este momento. Inténtalo de nuevo dentro de un minuto.",
	failContentFiltered: "⚠️ Lo siento, no puedo responder a eso.",
	failNoAnswer:        "Lo siento, no he encontrado una respuesta a eso en la base de conocimiento.",
	failBadResponse:     "⚠️ El asistente envió una respuesta que no pude leer. Inténtalo de nuevo.",
	failUnavailable:     "⚠️ El asistente no está disponible en este momento. Inténtalo de nuevo más tarde.",

	reactionFailed: "⚠️",

	helpIntro: "Respondo preguntas a partir de nuestra base de conocimiento.\n\n" +
		"• En un chat privado, simplemente escribe tu pregunta.\n" +
		"• En un grupo o canal, mencióname o responde a uno de mis mensajes.",
	helpCommands:    "Comandos:",
	helpOr:          " o ",
	helpArgQuestion: "pregunta",

	cmdAskHelp:    "Hacerle una pregunta al bot",
	cmdAskArgHelp: "Tu pregunta",
	cmdResetHelp:  "Empezar una conversación nueva aquí",
	cmdStopHelp:   "Detener la respuesta que se está escribiendo aquí",
	cmdHelpHelp:   "Qué hace este bot y cómo hablar con él",

	statusSearching: "Buscando en la base de conocimiento…",
	statusWriting:   "Escribiendo la respuesta…",

	noticeTextOnly:     "Solo puedo leer texto. Escribe tu pregunta en un mensaje, por favor.",
	markRagUnavailable: "\n\n_(No se pudo consultar la base de conocimiento para esta respuesta.)_",
	labelSources:       "Fuentes:",
}

var russian = map[notice]string{
	noticeReset:          "Начат новый разговор.",
	noticeStopped:        "Остановлено.",
	noticeNothingRunning: "Сейчас я ничего не отвечаю.",
	noticeBusy:           "Я ещё отвечаю на ваши предыдущие сообщения. Пожалуйста, подождите немного.",
	noticePanic:          "Извините, при ответе у меня что-то пошло не так. Пожалуйста, попробуйте ещё раз.",
	noticeEmptyAsk:       "Задайте вопрос после команды, например: /ask Когда вы открыты?",
	noticeNoAnswer:       "(Ассистент вернул пустой ответ.)",
	noticeUnknownCommand: "Неизвестная команда /%s. Попробуйте /help.",
	noticeRestartApology: "Извините — меня перезапустили, и я не смог ответить на ваше сообщение от %s. Пожалуйста, спросите ещё раз.",
	noticeExpired:        "_(Ваш предыдущий разговор истёк, поэтому я начал новый.)_\n\n",
	markStopped:          " … _(остановлено)_",
	markInterrupt:        "\n\n_(прервано: мост перезапускается; пожалуйста, спросите ещё раз)_",
	markResume:           "\n\n_(прервано: мост перезапускается; полный ответ придёт, когда он снова заработает)_",

	refuseNotAdmin:   "Начать новый разговор здесь могут только администраторы группы.",
	refuseTooLong:    "Ваше сообщение слишком длинное (%d симв.). Пожалуйста, задавайте вопросы короче %d символов.",
	refuseUserRate:   "Вы спрашиваете быстрее, чем я успеваю отвечать. Подождите немного и попробуйте снова.",
	refuseChatRate:   "В этом чате спрашивают быстрее, чем я успеваю отвечать. Подождите немного и попробуйте снова.",
	refuseDailyQuota: "Вы исчерпали лимит вопросов на сегодня. Пожалуйста, возвращайтесь завтра.",

	failUnauthorized:    "⚠️ Ассистент настроен неправильно (его API-ключ отклонён). Оператор уже уведомлён.",
	failNotFound:        "⚠️ Ассистент не найден. Оператор уже уведомлён.",
	failRateLimited:     "⚠️ Ассистент сейчас занят. Пожалуйста, попробуйте через минуту.",
	failContentFiltered: "⚠️ Извините, на это я ответить не могу.",
	failNoAnswer:        "Извините, я не нашёл ответа на это в базе знаний.",
	failBadResponse:     "⚠️ Ассистент прислал ответ, который я не смог прочитать. Пожалуйста, попробуйте ещё раз.",
	failUnavailable:     "⚠️ Ассистент сейчас недоступен. Пожалуйста, попробуйте позже.",

	reactionFailed: "⚠️",

	helpIntro: "Я отвечаю на вопросы по нашей базе знаний.\n\n" +
		"• В личном чате просто напишите свой вопрос.\n" +
		"• В группе или канале упомяните меня или ответьте на одно из моих сообщений.",
	helpCommands:    "Команды:",
	helpOr:          " или ",
	helpArgQuestion: "вопрос",

	cmdAskHelp:    "Задать боту вопрос",
	cmdAskArgHelp: "Ваш вопрос",
	cmdResetHelp:  "Начать здесь новый разговор",
	cmdStopHelp:   "Остановить ответ, который сейчас пишется",
	cmdHelpHelp:   "Что умеет этот бот и как с ним общаться",

	statusSearching: "Ищу в базе знаний…",
	statusWriting:   "Пишу ответ…",

	noticeTextOnly:     "Я понимаю только текст. Пожалуйста, напишите свой вопрос сообщением.",
	markRagUnavailable: "\n\n_(Для этого ответа не удалось выполнить поиск по базе знаний.)_",
	labelSources:       "Источники:",
}

var chineseSimplified = map[notice]string{
	noticeReset:          "已开始新的对话。",
	noticeStopped:        "已停止。",
	noticeNothingRunning: "目前没有正在进行的回答。",
	noticeBusy:           "我还在回答你之前的消息，请稍等片刻。",
	noticePanic:          "抱歉，我在回答时出了点问题，请重试。",
	noticeEmptyAsk:       "请在命令后面写上问题，例如：/ask 你们的营业时间是几点？",
	noticeNoAnswer:       "（助手返回了空白回答。）",
	noticeUnknownCommand: "未知命令 /%s。试试 /help。",
	noticeRestartApology: "抱歉——我刚刚重启，未能回答你在 %s 发送的消息。请再问一次。",
	noticeExpired:        "_(你之前的对话已过期，所以我开始了新的对话。)_\n\n",
	markStopped:          " … _(已停止)_",
	markInterrupt:        "\n\n_(已中断：桥接服务正在重启，请再问一次)_",
	markResume:           "\n\n_(已中断：桥接服务正在重启，恢复后会发送完整回答)_",

	refuseNotAdmin:   "只有群管理员才能在这里开始新的对话。",
	refuseTooLong:    "你的消息太长了（%d 个字符）。请将问题控制在 %d 个字符以内。",
	refuseUserRate:   "你提问的速度超过了我回答的速度。请稍等片刻再试。",
	refuseChatRate:   "这个聊天的提问速度超过了我回答的速度。请稍等片刻再试。",
	refuseDailyQuota: "你已达到今天的提问上限，请明天再来。",

	failUnauthorized:    "⚠️ 助手配置不正确（其 API 密钥被拒绝）。已通知运营者。",
	failNotFound:        "⚠️ 找不到该助手。已通知运营者。",
	failRateLimited:     "⚠️ 助手现在很忙，请一分钟后再试。",
	failContentFiltered: "⚠️ 抱歉，我无法回答这个问题。",
	failNoAnswer:        "抱歉，我在知识库中没有找到相关答案。",
	failBadResponse:     "⚠️ 助手发来的回答我无法读取，请重试。",
	failUnavailable:     "⚠️ 助手暂时不可用，请稍后再试。",

	reactionFailed: "⚠️",

	helpIntro: "我根据我们的知识库回答问题。\n\n" +
		"• 在私聊中，直接写下你的问题即可。\n" +
		"• 在群组或频道中，请提及我或回复我的某条消息。",
	helpCommands:    "命令：",
	helpOr:          " 或 ",
	helpArgQuestion: "问题",

	cmdAskHelp:    "向机器人提问",
	cmdAskArgHelp: "你的问题",
	cmdResetHelp:  "在这里开始新的对话",
	cmdStopHelp:   "停止这里正在生成的回答",
	cmdHelpHelp:   "这个机器人能做什么，以及如何与它对话",

	statusSearching: "正在搜索知识库…",
	statusWriting:   "正在撰写回答…",

	noticeTextOnly:     "我只能读取文字。请用文字消息写下你的问题。",
	markRagUnavailable: "\n\n_(本次回答未能检索知识库。)_",
	labelSources:       "来源：",
}

var chineseTraditional = map[notice]string{
	noticeReset:          "已開始新的對話。",
	noticeStopped:        "已停止。",
	noticeNothingRunning: "目前沒有正在進行的回答。",
	noticeBusy:           "我還在回答你先前的訊息，請稍候片刻。",
	noticePanic:          "抱歉，我在回答時出了點問題，請再試一次。",
	noticeEmptyAsk:       "請在指令後面寫上問題，例如：/ask 你們的營業時間是幾點？",
	noticeNoAnswer:       "（助理回傳了空白的回答。）",
	noticeUnknownCommand: "未知的指令 /%s。試試 /help。",
	noticeRestartApology: "抱歉——我剛剛重新啟動，無法回答你在 %s 傳送的訊息。請再問一次。",
	noticeExpired:        "_(你先前的對話已過期，所以我開始了新的對話。)_\n\n",
	markStopped:          " … _(已停止)_",
	markInterrupt:        "\n\n_(已中斷：橋接服務正在重新啟動，請再問一次)_",
	markResume:           "\n\n_(已中斷：橋接服務正在重新啟動，恢復後會送出完整回答)_",

	refuseNotAdmin:   "只有群組管理員才能在這裡開始新的對話。",
	refuseTooLong:    "你的訊息太長了（%d 個字元）。請將問題控制在 %d 個字元以內。",
	refuseUserRate:   "你提問的速度超過了我回答的速度。請稍候片刻再試。",
	refuseChatRate:   "這個聊天室提問的速度超過了我回答的速度。請稍候片刻再試。",
	refuseDailyQuota: "你已達到今天的提問上限，請明天再來。",

	failUnauthorized:    "⚠️ 助理的設定不正確（其 API 金鑰遭到拒絕）。已通知營運者。",
	failNotFound:        "⚠️ 找不到這個助理。已通知營運者。",
	failRateLimited:     "⚠️ 助理現在很忙，請一分鐘後再試。",
	failContentFiltered: "⚠️ 抱歉，我無法回答這個問題。",
	failNoAnswer:        "抱歉，我在知識庫中找不到相關的答案。",
	failBadResponse:     "⚠️ 助理傳來的回答我無法讀取，請再試一次。",
	failUnavailable:     "⚠️ 助理暫時無法使用，請稍後再試。",

	reactionFailed: "⚠️",

	helpIntro: "我會根據我們的知識庫回答問題。\n\n" +
		"• 在私人聊天中，直接寫下你的問題即可。\n" +
		"• 在群組或頻道中，請提及我或回覆我的任一則訊息。",
	helpCommands:    "指令：",
	helpOr:          " 或 ",
	helpArgQuestion: "問題",

	cmdAskHelp:    "向機器人提問",
	cmdAskArgHelp: "你的問題",
	cmdResetHelp:  "在這裡開始新的對話",
	cmdStopHelp:   "停止這裡正在撰寫的回答",
	cmdHelpHelp:   "這個機器人能做什麼，以及如何與它對話",

	statusSearching: "正在搜尋知識庫…",
	statusWriting:   "正在撰寫回答…",

	noticeTextOnly:     "我只能讀取文字。請用文字訊息寫下你的問題。",
	markRagUnavailable: "\n\n_(這次回答未能搜尋知識庫。)_",
	labelSources:       "來源：",
}

var arabic = map[notice]string{
	noticeReset:          "بدأتُ محادثة جديدة.",
	noticeStopped:        "تم الإيقاف.",
	noticeNothingRunning: "لا توجد إجابة قيد الكتابة الآن.",
	noticeBusy:           "ما زلت أجيب عن رسائلك السابقة. يُرجى الانتظار قليلًا.",
	noticePanic:          "عذرًا، حدث خطأ من جهتي أثناء الإجابة. يُرجى المحاولة مرة أخرى.",
	noticeEmptyAsk:       "اكتب سؤالًا بعد الأمر، مثلًا: /ask ما هي مواعيد العمل لديكم؟",
	noticeNoAnswer:       "(أعاد المساعد إجابة فارغة.)",
	noticeUnknownCommand: "أمر غير معروف /%s. جرّب /help.",
	noticeRestartApology: "عذرًا — أُعيد تشغيلي ولم أتمكن من الرد على رسالتك المرسلة في %s. يُرجى السؤال مرة أخرى.",
	noticeExpired:        "_(انتهت صلاحية محادثتك السابقة، لذا بدأتُ محادثة جديدة.)_\n\n",
	markStopped:          " … _(تم الإيقاف)_",
	markInterrupt:        "\n\n_(توقفت الإجابة: يُعاد تشغيل الجسر؛ يُرجى السؤال مرة أخرى)_",
	markResume:           "\n\n_(توقفت الإجابة: يُعاد تشغيل الجسر؛ ستصلك الإجابة كاملة عند عودته)_",

	refuseNotAdmin:   "يمكن لمشرفي المجموعة فقط بدء محادثة جديدة هنا.",
	refuseTooLong:    "رسالتك طويلة جدًا (%d حرفًا). يُرجى ألا تتجاوز الأسئلة %d حرفًا.",
	refuseUserRate:   "أنت تسأل أسرع مما أستطيع الإجابة. يُرجى الانتظار قليلًا ثم المحاولة مجددًا.",
	refuseChatRate:   "الأسئلة في هذه الدردشة أسرع مما أستطيع الإجابة. يُرجى الانتظار قليلًا ثم المحاولة مجددًا.",
	refuseDailyQuota: "لقد بلغت الحد اليومي للأسئلة. يُرجى العودة غدًا.",

	failUnauthorized:    "⚠️ المساعد غير مُعَدّ بشكل صحيح (رُفض مفتاح API الخاص به). تم إبلاغ المشغّل.",
	failNotFound:        "⚠️ تعذّر العثور على المساعد. تم إبلاغ المشغّل.",
	failRateLimited:     "⚠️ المساعد مشغول الآن. يُرجى المحاولة بعد دقيقة.",
	failContentFiltered: "⚠️ عذرًا، لا يمكنني الإجابة عن ذلك.",
	failNoAnswer:        "عذرًا، لم أجد إجابة عن ذلك في قاعدة المعرفة.",
	failBadResponse:     "⚠️ أرسل المساعد إجابة لم أتمكن من قراءتها. يُرجى المحاولة مرة أخرى.",
	failUnavailable:     "⚠️ المساعد غير متاح الآن. يُرجى المحاولة لاحقًا.",

	reactionFailed: "⚠️",

	helpIntro: "أجيب عن الأسئلة من قاعدة معارفنا.\n\n" +
		"• في الدردشة الخاصة، اكتب سؤالك فقط.\n" +
		"• في مجموعة أو قناة، اذكرني أو ردّ على إحدى رسائلي.",
	helpCommands:    "الأوامر:",
	helpOr:          " أو ",
	helpArgQuestion: "سؤال",

	cmdAskHelp:    "اطرح سؤالًا على البوت",
	cmdAskArgHelp: "سؤالك",
	cmdResetHelp:  "ابدأ محادثة جديدة هنا",
	cmdStopHelp:   "أوقف الإجابة التي تُكتب هنا",
	cmdHelpHelp:   "ما الذي يفعله هذا البوت وكيف تتحدث معه",

	statusSearching: "جارٍ البحث في قاعدة المعرفة…",
	statusWriting:   "جارٍ كتابة الإجابة…",

	noticeTextOnly:     "يمكنني قراءة النصوص فقط. يُرجى كتابة سؤالك في رسالة.",
	markRagUnavailable: "\n\n_(تعذّر البحث في قاعدة المعرفة لهذه الإجابة.)_",
	labelSources:       "المصادر:",
}

var german = map[notice]string{
	noticeReset:          "Neue Unterhaltung begonnen.",
	noticeStopped:        "Angehalten.",
	noticeNothingRunning: "Gerade wird nichts beantwortet.",
	noticeBusy:           "Ich beantworte noch deine vorherigen Nachrichten. Bitte warte einen Moment.",
	noticePanic:          "Entschuldigung, bei mir ist beim Antworten etwas schiefgelaufen. Bitte versuche es noch einmal.",
	noticeEmptyAsk:       "Stelle deine Frage nach dem Befehl, zum Beispiel: /ask Wann habt ihr geöffnet?",
	noticeNoAnswer:       "(Der Assistent hat eine leere Antwort geliefert.)",
	noticeUnknownCommand: "Unbekannter Befehl /%s. Probiere /help.",
	noticeRestartApology: "Entschuldigung — ich wurde neu gestartet und konnte deine Nachricht von %s nicht beantworten. Bitte frag noch einmal.",
	noticeExpired:        "_(Deine vorherige Unterhaltung war abgelaufen, daher habe ich eine neue begonnen.)_\n\n",
	markStopped:          " … _(angehalten)_",
	markInterrupt:        "\n\n_(unterbrochen: die Bridge startet neu; bitte frag noch einmal)_",
	markResume:           "\n\n_(unterbrochen: die Bridge startet neu; die vollständige Antwort folgt, sobald sie wieder läuft)_",

	refuseNotAdmin:   "Nur die Admins der Gruppe können hier eine neue Unterhaltung beginnen.",
	refuseTooLong:    "Deine Nachricht ist zu lang (%d Zeichen). Bitte halte Fragen unter %d Zeichen.",
	refuseUserRate:   "Du fragst schneller, als ich antworten kann. Bitte warte einen Moment und versuche es dann noch einmal.",
	refuseChatRate:   "In diesem Chat wird schneller gefragt, als ich antworten kann. Bitte wartet einen Moment und versucht es dann noch einmal.",
	refuseDailyQuota: "Du hast das heutige Limit an Fragen erreicht. Bitte komm morgen wieder.",

	failUnauthorized:    "⚠️ Der Assistent ist nicht richtig eingerichtet (sein API-Schlüssel wurde abgelehnt). Der Betreiber wurde informiert.",
	failNotFound:        "⚠️ Der Assistent wurde nicht gefunden. Der Betreiber wurde informiert.",
	failRateLimited:     "⚠️ Der Assistent ist gerade ausgelastet. Bitte versuche es in einer Minute noch einmal.",
	failContentFiltered: "⚠️ Entschuldigung, darauf kann ich nicht antworten.",
	failNoAnswer:        "Entschuldigung, dazu habe ich in der Wissensdatenbank keine Antwort gefunden.",
	failBadResponse:     "⚠️ Der Assistent hat eine Antwort geschickt, die ich nicht lesen konnte. Bitte versuche es noch einmal.",
	failUnavailable:     "⚠️ Der Assistent ist gerade nicht erreichbar. Bitte versuche es später noch einmal.",

	reactionFailed: "⚠️",

	helpIntro: "Ich beantworte Fragen aus unserer Wissensdatenbank.\n\n" +
		"• Im privaten Chat schreib einfach deine Frage.\n" +
		"• In einer Gruppe oder einem Kanal erwähne mich oder antworte auf eine meiner Nachrichten.",
	helpCommands:    "Befehle:",
	helpOr:          " oder ",
	helpArgQuestion: "Frage",

	cmdAskHelp:    "Dem Bot eine Frage stellen",
	cmdAskArgHelp: "Deine Frage",
	cmdResetHelp:  "Hier eine neue Unterhaltung beginnen",
	cmdStopHelp:   "Die Antwort anhalten, die hier gerade geschrieben wird",
	cmdHelpHelp:   "Was dieser Bot kann und wie man mit ihm spricht",

	statusSearching: "Durchsuche die Wissensdatenbank…",
	statusWriting:   "Schreibe die Antwort…",

	noticeTextOnly:     "Ich kann nur Text lesen. Bitte schreib deine Frage als Nachricht.",
	markRagUnavailable: "\n\n_(Die Wissensdatenbank konnte für diese Antwort nicht durchsucht werden.)_",
	labelSources:       "Quellen:",
}

var japanese = map[notice]string{
	noticeReset:          "新しい会話を始めました。",
	noticeStopped:        "停止しました。",
	noticeNothingRunning: "現在、回答中のものはありません。",
	noticeBusy:           "まだ前のメッセージに回答しています。少々お待ちください。",
	noticePanic:          "申し訳ありません。回答中にこちらで問題が発生しました。もう一度お試しください。",
	noticeEmptyAsk:       "コマンドの後に質問を書いてください。例：/ask 営業時間は何時から何時までですか？",
	noticeNoAnswer:       "（アシスタントから空の回答が返されました。）",
	noticeUnknownCommand: "不明なコマンド /%s です。/help をお試しください。",
	noticeRestartApology: "申し訳ありません — 再起動したため、%s に受け取ったメッセージに回答できませんでした。もう一度お尋ねください。",
	noticeExpired:        "_(前回の会話の有効期限が切れていたため、新しい会話を始めました。)_\n\n",
	markStopped:          " … _(停止しました)_",
	markInterrupt:        "\n\n_(中断：ブリッジを再起動しています。もう一度お尋ねください)_",
	markResume:           "\n\n_(中断：ブリッジを再起動しています。復帰後に回答の全文をお送りします)_",

	refuseNotAdmin:   "ここで新しい会話を始められるのはグループの管理者だけです。",
	refuseTooLong:    "メッセージが長すぎます（%d 文字）。質問は %d 文字未満にしてください。",
	refuseUserRate:   "回答が追いつかないペースで質問されています。少し待ってから、もう一度お試しください。",
	refuseChatRate:   "このチャットでは回答が追いつかないペースで質問されています。少し待ってから、もう一度お試しください。",
	refuseDailyQuota: "本日の質問の上限に達しました。また明日お越しください。",

	failUnauthorized:    "⚠️ アシスタントが正しく設定されていません（API キーが拒否されました）。運営者に通知しました。",
	failNotFound:        "⚠️ アシスタントが見つかりませんでした。運営者に通知しました。",
	failRateLimited:     "⚠️ アシスタントは現在混み合っています。1 分後にもう一度お試しください。",
	failContentFiltered: "⚠️ 申し訳ありませんが、その質問にはお答えできません。",
	failNoAnswer:        "申し訳ありません。ナレッジベースにその答えが見つかりませんでした。",
	failBadResponse:     "⚠️ アシスタントから読み取れない回答が届きました。もう一度お試しください。",
	failUnavailable:     "⚠️ アシスタントは現在利用できません。しばらくしてからもう一度お試しください。",

	reactionFailed: "⚠️",

	helpIntro: "ナレッジベースをもとに質問にお答えします。\n\n" +
		"• 個別チャットでは、質問をそのまま書いてください。\n" +
		"• グループやチャンネルでは、私をメンションするか、私のメッセージに返信してください。",
	helpCommands:    "コマンド：",
	helpOr:          " または ",
	helpArgQuestion: "質問",

	cmdAskHelp:    "ボットに質問する",
	cmdAskArgHelp: "質問内容",
	cmdResetHelp:  "ここで新しい会話を始める",
	cmdStopHelp:   "ここで作成中の回答を停止する",
	cmdHelpHelp:   "このボットでできることと話しかけ方",

	statusSearching: "ナレッジベースを検索しています…",
	statusWriting:   "回答を作成しています…",

	noticeTextOnly:     "テキストしか読めません。質問をメッセージで書いてください。",
	markRagUnavailable: "\n\n_(この回答ではナレッジベースを検索できませんでした。)_",
	labelSources:       "出典：",
}

var portuguese = map[notice]string{
	noticeReset:          "Nova conversa iniciada.",
	noticeStopped:        "Interrompido.",
	noticeNothingRunning: "Nada está sendo respondido no momento.",
	noticeBusy:           "Ainda estou respondendo às suas mensagens anteriores. Aguarde um momento, por favor.",
	noticePanic:          "Desculpe, algo deu errado do meu lado ao responder. Tente novamente.",
	noticeEmptyAsk:       "Faça uma pergunta depois do comando, por exemplo: /ask Qual é o horário de funcionamento?",
	noticeNoAnswer:       "(O assistente retornou uma resposta vazia.)",
	noticeUnknownCommand: "Comando desconhecido /%s. Experimente /help.",
	noticeRestartApology: "Desculpe — fui reiniciado e não consegui responder à sua mensagem das %s. Pergunte novamente, por favor.",
	noticeExpired:        "_(Sua conversa anterior tinha expirado, então comecei uma nova.)_\n\n",
	markStopped:          " … _(interrompido)_",
	markInterrupt:        "\n\n_(interrompido: a ponte está reiniciando; pergunte novamente, por favor)_",
	markResume:           "\n\n_(interrompido: a ponte está reiniciando; a resposta completa chega quando ela voltar)_",

	refuseNotAdmin:   "Só os administradores do grupo podem iniciar uma nova conversa aqui.",
	refuseTooLong:    "Sua mensagem é longa demais (%d caracteres). Mantenha as perguntas abaixo de %d caracteres, por favor.",
	refuseUserRate:   "Você está perguntando mais rápido do que consigo responder. Aguarde um momento e tente de novo.",
	refuseChatRate:   "Este chat está perguntando mais rápido do que consigo responder. Aguardem um momento e tentem de novo.",
	refuseDailyQuota: "Você atingiu o limite de perguntas de hoje. Volte amanhã, por favor.",

	failUnauthorized:    "⚠️ O assistente não está configurado corretamente (a chave de API dele foi recusada). O operador foi avisado.",
	failNotFound:        "⚠️ O assistente não foi encontrado. O operador foi avisado.",
	failRateLimited:     "⚠️ O assistente está ocupado agora. Tente novamente em um minuto.",
	failContentFiltered: "⚠️ Desculpe, não posso responder a isso.",
	failNoAnswer:        "Desculpe, não encontrei uma resposta para isso na base de conhecimento.",
	failBadResponse:     "⚠️ O assistente enviou uma resposta que não consegui ler. Tente novamente.",
	failUnavailable:     "⚠️ O assistente está indisponível no momento. Tente novamente mais tarde.",

	reactionFailed: "⚠️",

	helpIntro: "Respondo perguntas com base na nossa base de conhecimento.\n\n" +
		"• Em um chat privado, é só escrever sua pergunta.\n" +
		"• Em um grupo ou canal, mencione-me ou responda a uma das minhas mensagens.",
	helpCommands:    "Comandos:",
	helpOr:          " ou ",
	helpArgQuestion: "pergunta",

	cmdAskHelp:    "Fazer uma pergunta ao bot",
	cmdAskArgHelp: "Sua pergunta",
	cmdResetHelp:  "Começar uma conversa nova aqui",
	cmdStopHelp:   "Interromper a resposta que está sendo escrita aqui",
	cmdHelpHelp:   "O que este bot faz e como falar com ele",

	statusSearching: "Pesquisando na base de conhecimento…",
	statusWriting:   "Escrevendo a resposta…",

	noticeTextOnly:     "Só consigo ler texto. Escreva sua pergunta em uma mensagem, por favor.",
	markRagUnavailable: "\n\n_(Não foi possível consultar a base de conhecimento para esta resposta.)_",
	labelSources:       "Fontes:",
}

var hindi = map[notice]string{
	noticeReset:          "नई बातचीत शुरू हो गई है।",
	noticeStopped:        "रोक दिया गया।",
	noticeNothingRunning: "अभी किसी सवाल का जवाब नहीं लिखा जा रहा है।",
	noticeBusy:           "मैं अभी आपके पिछले संदेशों का जवाब दे रहा हूँ। कृपया थोड़ा इंतज़ार करें।",
	noticePanic:          "माफ़ कीजिए, जवाब देते समय मेरी ओर से कुछ गड़बड़ हो गई। कृपया फिर से कोशिश करें।",
	noticeEmptyAsk:       "कमांड के बाद अपना सवाल लिखें, जैसे: /ask आप कितने बजे से कितने बजे तक खुले रहते हैं?",
	noticeNoAnswer:       "(सहायक ने खाली जवाब लौटाया।)",
	noticeUnknownCommand: "अज्ञात कमांड /%s। /help आज़माएँ।",
	noticeRestartApology: "माफ़ कीजिए — मुझे फिर से शुरू किया गया था और मैं %s पर भेजे गए आपके संदेश का जवाब नहीं दे सका। कृपया फिर से पूछें।",
	noticeExpired:        "_(आपकी पिछली बातचीत की अवधि समाप्त हो गई थी, इसलिए मैंने नई बातचीत शुरू की है।)_\n\n",
	markStopped:          " … _(रोक दिया गया)_",
	markInterrupt:        "\n\n_(बीच में रुका: ब्रिज फिर से शुरू हो रहा है; कृपया फिर से पूछें)_",
	markResume:           "\n\n_(बीच में रुका: ब्रिज फिर से शुरू हो रहा है; वापस आने पर पूरा जवाब भेजा जाएगा)_",

	refuseNotAdmin:   "यहाँ नई बातचीत सिर्फ़ ग्रुप के एडमिन ही शुरू कर सकते हैं।",
	refuseTooLong:    "आपका संदेश बहुत लंबा है (%d अक्षर)। कृपया सवाल %d अक्षरों से छोटे रखें।",
	refuseUserRate:   "आप मेरे जवाब देने की रफ़्तार से ज़्यादा तेज़ी से पूछ रहे हैं। कृपया थोड़ा रुककर फिर से कोशिश करें।",
	refuseChatRate:   "इस चैट में मेरे जवाब देने की रफ़्तार से ज़्यादा तेज़ी से पूछा जा रहा है। कृपया थोड़ा रुककर फिर से कोशिश करें।",
	refuseDailyQuota: "आप आज के सवालों की सीमा तक पहुँच गए हैं। कृपया कल फिर आएँ।",

	failUnauthorized:    "⚠️ सहायक ठीक से सेट नहीं है (उसकी API कुंजी अस्वीकार कर दी गई)। ऑपरेटर को सूचित कर दिया गया है।",
	failNotFound:        "⚠️ सहायक नहीं मिला। ऑपरेटर को सूचित कर दिया गया है।",
	failRateLimited:     "⚠️ सहायक अभी व्यस्त है। कृपया एक मिनट बाद फिर से कोशिश करें।",
	failContentFiltered: "⚠️ माफ़ कीजिए, मैं इसका जवाब नहीं दे सकता।",
	failNoAnswer:        "माफ़ कीजिए, मुझे नॉलेज बेस में इसका जवाब नहीं मिला।",
	failBadResponse:     "⚠️ सहायक ने ऐसा जवाब भेजा जिसे मैं पढ़ नहीं सका। कृपया फिर से कोशिश करें।",
	failUnavailable:     "⚠️ सहायक अभी उपलब्ध नहीं है। कृपया बाद में फिर से कोशिश करें।",

	reactionFailed: "⚠️",

	helpIntro: "मैं हमारे नॉलेज बेस से सवालों के जवाब देता हूँ।\n\n" +
		"• निजी चैट में, बस अपना सवाल लिखें।\n" +
		"• ग्रुप या चैनल में, मुझे मेंशन करें या मेरे किसी संदेश का जवाब दें।",
	helpCommands:    "कमांड:",
	helpOr:          " या ",
	helpArgQuestion: "सवाल",

	cmdAskHelp:    "बॉट से सवाल पूछें",
	cmdAskArgHelp: "आपका सवाल",
	cmdResetHelp:  "यहाँ नई बातचीत शुरू करें",
	cmdStopHelp:   "यहाँ लिखा जा रहा जवाब रोकें",
	cmdHelpHelp:   "यह बॉट क्या करता है और इससे कैसे बात करें",

	statusSearching: "नॉलेज बेस में खोज रहा हूँ…",
	statusWriting:   "जवाब लिख रहा हूँ…",

	noticeTextOnly:     "मैं सिर्फ़ टेक्स्ट पढ़ सकता हूँ। कृपया अपना सवाल संदेश में लिखें।",
	markRagUnavailable: "\n\n_(इस जवाब के लिए नॉलेज बेस में खोज नहीं हो सकी।)_",
	labelSources:       "स्रोत:",
}

var korean = map[notice]string{
	noticeReset:          "새 대화를 시작했습니다.",
	noticeStopped:        "중지했습니다.",
	noticeNothingRunning: "지금 작성 중인 답변이 없습니다.",
	noticeBusy:           "아직 이전 메시지에 답하는 중입니다. 잠시만 기다려 주세요.",
	noticePanic:          "죄송합니다. 답변하는 중에 문제가 생겼습니다. 다시 시도해 주세요.",
	noticeEmptyAsk:       "명령어 뒤에 질문을 입력해 주세요. 예: /ask 영업시간이 어떻게 되나요?",
	noticeNoAnswer:       "(어시스턴트가 빈 답변을 보냈습니다.)",
	noticeUnknownCommand: "알 수 없는 명령어입니다: /%s. /help 를 사용해 보세요.",
	noticeRestartApology: "죄송합니다 — 재시작되어 %s에 보내신 메시지에 답하지 못했습니다. 다시 질문해 주세요.",
	noticeExpired:        "_(이전 대화가 만료되어 새 대화를 시작했습니다.)_\n\n",
	markStopped:          " … _(중지됨)_",
	markInterrupt:        "\n\n_(중단됨: 브리지가 재시작 중입니다. 다시 질문해 주세요)_",
	markResume:           "\n\n_(중단됨: 브리지가 재시작 중입니다. 다시 켜지면 전체 답변을 보내 드립니다)_",

	refuseNotAdmin:   "이곳에서는 그룹 관리자만 새 대화를 시작할 수 있습니다.",
	refuseTooLong:    "메시지가 너무 깁니다(%d자). 질문은 %d자 미만으로 작성해 주세요.",
	refuseUserRate:   "제가 답할 수 있는 것보다 빠르게 질문하고 계십니다. 잠시 후 다시 시도해 주세요.",
	refuseChatRate:   "이 채팅방에서 제가 답할 수 있는 것보다 빠르게 질문이 올라오고 있습니다. 잠시 후 다시 시도해 주세요.",
	refuseDailyQuota: "오늘의 질문 한도에 도달했습니다. 내일 다시 와 주세요.",

	failUnauthorized:    "⚠️ 어시스턴트가 올바르게 설정되지 않았습니다(API 키가 거부되었습니다). 운영자에게 알렸습니다.",
	failNotFound:        "⚠️ 어시스턴트를 찾을 수 없습니다. 운영자에게 알렸습니다.",
	failRateLimited:     "⚠️ 지금은 어시스턴트가 바쁩니다. 1분 후에 다시 시도해 주세요.",
	failContentFiltered: "⚠️ 죄송하지만 그 질문에는 답할 수 없습니다.",
	failNoAnswer:        "죄송합니다. 지식 베이스에서 그에 대한 답을 찾지 못했습니다.",
	failBadResponse:     "⚠️ 어시스턴트가 읽을 수 없는 답변을 보냈습니다. 다시 시도해 주세요.",
	failUnavailable:     "⚠️ 지금은 어시스턴트를 사용할 수 없습니다. 나중에 다시 시도해 주세요.",

	reactionFailed: "⚠️",

	helpIntro: "저는 지식 베이스를 바탕으로 질문에 답합니다.\n\n" +
		"• 개인 채팅에서는 질문을 그대로 입력하세요.\n" +
		"• 그룹이나 채널에서는 저를 멘션하거나 제 메시지에 답장하세요.",
	helpCommands:    "명령어:",
	helpOr:          " 또는 ",
	helpArgQuestion: "질문",

	cmdAskHelp:    "봇에게 질문하기",
	cmdAskArgHelp: "질문 내용",
	cmdResetHelp:  "여기서 새 대화 시작하기",
	cmdStopHelp:   "여기서 작성 중인 답변 중지하기",
	cmdHelpHelp:   "이 봇이 하는 일과 대화하는 방법",

	statusSearching: "지식 베이스를 검색하는 중…",
	statusWriting:   "답변을 작성하는 중…",

	noticeTextOnly:     "텍스트만 읽을 수 있습니다. 질문을 메시지로 입력해 주세요.",
	markRagUnavailable: "\n\n_(이번 답변에서는 지식 베이스를 검색하지 못했습니다.)_",
	labelSources:       "출처:",
}

var italian = map[notice]string{
	noticeReset:          "Nuova conversazione iniziata.",
	noticeStopped:        "Interrotto.",
	noticeNothingRunning: "Al momento non sto rispondendo a niente.",
	noticeBusy:           "Sto ancora rispondendo ai tuoi messaggi precedenti. Attendi un momento, per favore.",
	noticePanic:          "Scusa, qualcosa è andato storto da parte mia durante la risposta. Riprova.",
	noticeEmptyAsk:       "Scrivi una domanda dopo il comando, per esempio: /ask Quali sono i vostri orari di apertura?",
	noticeNoAnswer:       "(L'assistente ha restituito una risposta vuota.)",
	noticeUnknownCommand: "Comando sconosciuto /%s. Prova /help.",
	noticeRestartApology: "Scusa — sono stato riavviato e non ho potuto rispondere al tuo messaggio delle %s. Chiedi di nuovo, per favore.",
	noticeExpired:        "_(La tua conversazione precedente era scaduta, quindi ne ho iniziata una nuova.)_\n\n",
	markStopped:          " … _(interrotto)_",
	markInterrupt:        "\n\n_(interrotto: il bridge si sta riavviando; chiedi di nuovo, per favore)_",
	markResume:           "\n\n_(interrotto: il bridge si sta riavviando; la risposta completa arriverà quando sarà di nuovo attivo)_",

	refuseNotAdmin:   "Solo gli amministratori del gruppo possono iniziare una nuova conversazione qui.",
	refuseTooLong:    "Il tuo messaggio è troppo lungo (%d caratteri). Scrivi domande sotto i %d caratteri, per favore.",
	refuseUserRate:   "Stai facendo domande più velocemente di quanto riesca a rispondere. Attendi un momento e riprova.",
	refuseChatRate:   "In questa chat si fanno domande più velocemente di quanto riesca a rispondere. Attendete un momento e riprovate.",
	refuseDailyQuota: "Hai raggiunto il limite di domande di oggi. Torna domani, per favore.",

	failUnauthorized:    "⚠️ L'assistente non è configurato correttamente (la sua chiave API è stata rifiutata). L'operatore è stato avvisato.",
	failNotFound:        "⚠️ Impossibile trovare l'assistente. L'operatore è stato avvisato.",
	failRateLimited:     "⚠️ L'assistente è occupato in questo momento. Riprova tra un minuto.",
	failContentFiltered: "⚠️ Scusa, non posso rispondere a questa domanda.",
	failNoAnswer:        "Scusa, non ho trovato una risposta nella base di conoscenza.",
	failBadResponse:     "⚠️ L'assistente ha inviato una risposta che non sono riuscito a leggere. Riprova.",
	failUnavailable:     "⚠️ L'assistente non è disponibile al momento. Riprova più tardi.",

	reactionFailed: "⚠️",

	helpIntro: "Rispondo alle domande usando la nostra base di conoscenza.\n\n" +
		"• In una chat privata, scrivi semplicemente la tua domanda.\n" +
		"• In un gruppo o canale, menzionami o rispondi a uno dei miei messaggi.",
	helpCommands:    "Comandi:",
	helpOr:          " o ",
	helpArgQuestion: "domanda",

	cmdAskHelp:    "Fai una domanda al bot",
	cmdAskArgHelp: "La tua domanda",
	cmdResetHelp:  "Inizia qui una nuova conversazione",
	cmdStopHelp:   "Interrompi la risposta in corso qui",
	cmdHelpHelp:   "Cosa fa questo bot e come parlargli",

	statusSearching: "Cerco nella base di conoscenza…",
	statusWriting:   "Scrivo la risposta…",

	noticeTextOnly:     "Posso leggere solo testo. Scrivi la tua domanda in un messaggio, per favore.",
	markRagUnavailable: "\n\n_(Non è stato possibile consultare la base di conoscenza per questa risposta.)_",
	labelSources:       "Fonti:",
}

var ukrainian = map[notice]string{
	noticeReset:          "Розпочато нову розмову.",
	noticeStopped:        "Зупинено.",
	noticeNothingRunning: "Зараз я нічого не відповідаю.",
	noticeBusy:           "Я ще відповідаю на ваші попередні повідомлення. Будь ласка, зачекайте трохи.",
	noticePanic:          "Вибачте, під час відповіді в мене щось пішло не так. Будь ласка, спробуйте ще раз.",
	noticeEmptyAsk:       "Напишіть запитання після команди, наприклад: /ask Коли ви працюєте?",
	noticeNoAnswer:       "(Асистент повернув порожню відповідь.)",
	noticeUnknownCommand: "Невідома команда /%s. Спробуйте /help.",
	noticeRestartApology: "Вибачте — мене перезапустили, і я не зміг відповісти на ваше повідомлення від %s. Будь ласка, запитайте ще раз.",
	noticeExpired:        "_(Термін дії вашої попередньої розмови минув, тож я розпочав нову.)_\n\n",
	markStopped:          " … _(зупинено)_",
	markInterrupt:        "\n\n_(перервано: міст перезапускається; будь ласка, запитайте ще раз)_",
	markResume:           "\n\n_(перервано: міст перезапускається; повна відповідь надійде, коли він знову запрацює)_",

	refuseNotAdmin:   "Розпочати нову розмову тут можуть лише адміністратори групи.",
	refuseTooLong:    "Ваше повідомлення задовге (%d симв.). Будь ласка, пишіть запитання коротші за %d символів.",
	refuseUserRate:   "Ви запитуєте швидше, ніж я встигаю відповідати. Зачекайте трохи й спробуйте знову.",
	refuseChatRate:   "У цьому чаті запитують швидше, ніж я встигаю відповідати. Зачекайте трохи й спробуйте знову.",
	refuseDailyQuota: "Ви вичерпали ліміт запитань на сьогодні. Будь ласка, повертайтеся завтра.",

	failUnauthorized:    "⚠️ Асистента налаштовано неправильно (його API-ключ відхилено). Оператора вже повідомлено.",
	failNotFound:        "⚠️ Асистента не знайдено. Оператора вже повідомлено.",
	failRateLimited:     "⚠️ Асистент зараз зайнятий. Будь ласка, спробуйте за хвилину.",
	failContentFiltered: "⚠️ Вибачте, на це я відповісти не можу.",
	failNoAnswer:        "Вибачте, я не знайшов відповіді на це в базі знань.",
	failBadResponse:     "⚠️ Асистент надіслав відповідь, яку я не зміг прочитати. Будь ласка, спробуйте ще раз.",
	failUnavailable:     "⚠️ Асистент зараз недоступний. Будь ласка, спробуйте пізніше.",

	reactionFailed: "⚠️",

	helpIntro: "Я відповідаю на запитання за нашою базою знань.\n\n" +
		"• В особистому чаті просто напишіть своє запитання.\n" +
		"• У групі чи каналі згадайте мене або дайте відповідь на одне з моїх повідомлень.",
	helpCommands:    "Команди:",
	helpOr:          " або ",
	helpArgQuestion: "запитання",

	cmdAskHelp:    "Поставити ботові запитання",
	cmdAskArgHelp: "Ваше запитання",
	cmdResetHelp:  "Розпочати тут нову розмову",
	cmdStopHelp:   "Зупинити відповідь, яка зараз пишеться",
	cmdHelpHelp:   "Що вміє цей бот і як із ним спілкуватися",

	statusSearching: "Шукаю в базі знань…",
	statusWriting:   "Пишу відповідь…",

	noticeTextOnly:     "Я розумію лише текст. Будь ласка, напишіть своє запитання повідомленням.",
	markRagUnavailable: "\n\n_(Для цієї відповіді не вдалося виконати пошук у базі знань.)_",
	labelSources:       "Джерела:",
}
